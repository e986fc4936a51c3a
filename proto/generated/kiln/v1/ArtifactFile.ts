// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface ArtifactFile {
  'name'?: (string);
  'size'?: (number | string | Long);
  'sha256'?: (string);
}

export interface ArtifactFile__Output {
  'name': (string);
  'size': (string);
  'sha256': (string);
}
