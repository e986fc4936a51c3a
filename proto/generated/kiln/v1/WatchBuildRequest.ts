// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchBuildRequest {
  'build_id'?: (string);
  'from_seq'?: (number | string | Long);
}

export interface WatchBuildRequest__Output {
  'build_id': (string);
  'from_seq': (string);
}
