// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface DownloadFileRequest {
  'artifact_id'?: (string);
  'file_index'?: (number);
  'offset'?: (number | string | Long);
}

export interface DownloadFileRequest__Output {
  'artifact_id': (string);
  'file_index': (number);
  'offset': (string);
}
