// Original file: proto/kiln/v1/kiln.proto


export interface DeleteArtifactsRequest {
  'ids'?: (string)[];
}

export interface DeleteArtifactsRequest__Output {
  'ids': (string)[];
}
