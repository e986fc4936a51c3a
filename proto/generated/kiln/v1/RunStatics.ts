// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface RunStatics {
  'run_uuid'?: (string);
  'init_time_unix'?: (number | string | Long);
  'init_time_nanos'?: (number | string | Long);
  'template_uuid'?: (string);
}

export interface RunStatics__Output {
  'run_uuid': (string);
  'init_time_unix': (string);
  'init_time_nanos': (string);
  'template_uuid': (string);
}
