// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface StoredFile {
  'name'?: (string);
  'size'?: (number | string | Long);
  'sha256'?: (string);
  'object'?: (string);
  'store'?: (string);
}

export interface StoredFile__Output {
  'name': (string);
  'size': (string);
  'sha256': (string);
  'object': (string);
  'store': (string);
}
