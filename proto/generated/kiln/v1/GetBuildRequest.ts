// Original file: proto/kiln/v1/kiln.proto


export interface GetBuildRequest {
  'build_id'?: (string);
}

export interface GetBuildRequest__Output {
  'build_id': (string);
}
