// Original file: proto/kiln/v1/kiln.proto

import type { ErrorCode as _kiln_v1_ErrorCode, ErrorCode__Output as _kiln_v1_ErrorCode__Output } from '../../kiln/v1/ErrorCode';

export interface Failure {
  'code'?: (_kiln_v1_ErrorCode);
  'message'?: (string);
  'retryable'?: (boolean);
}

export interface Failure__Output {
  'code': (_kiln_v1_ErrorCode__Output);
  'message': (string);
  'retryable': (boolean);
}
