// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface PruneArtifactsRequest {
  'keep_last'?: (number);
  'older_than_ms'?: (number | string | Long);
}

export interface PruneArtifactsRequest__Output {
  'keep_last': (number);
  'older_than_ms': (string);
}
