// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchBuildRequest {
  'build_id'?: (string);
  'from_seq'?: (number | string | Long);
  'stop_when_caught_up'?: (boolean);
}

export interface WatchBuildRequest__Output {
  'build_id': (string);
  'from_seq': (string);
  'stop_when_caught_up': (boolean);
}
