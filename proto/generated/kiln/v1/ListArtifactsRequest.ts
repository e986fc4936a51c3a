// Original file: proto/kiln/v1/kiln.proto


export interface ListArtifactsRequest {
  'build_id'?: (string);
  'labels'?: ({[key: string]: string});
}

export interface ListArtifactsRequest__Output {
  'build_id': (string);
  'labels': ({[key: string]: string});
}
