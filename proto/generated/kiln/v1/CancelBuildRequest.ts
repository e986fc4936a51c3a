// Original file: proto/kiln/v1/kiln.proto


export interface CancelBuildRequest {
  'build_id'?: (string);
}

export interface CancelBuildRequest__Output {
  'build_id': (string);
}
