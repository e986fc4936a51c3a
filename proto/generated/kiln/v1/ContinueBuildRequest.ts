// Original file: proto/kiln/v1/kiln.proto


export interface ContinueBuildRequest {
  'build_id'?: (string);
}

export interface ContinueBuildRequest__Output {
  'build_id': (string);
}
