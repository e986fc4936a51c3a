// Original file: proto/kiln/v1/kiln.proto


export interface GetArtifactRequest {
  'id'?: (string);
}

export interface GetArtifactRequest__Output {
  'id': (string);
}
