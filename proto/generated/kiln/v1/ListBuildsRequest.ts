// Original file: proto/kiln/v1/kiln.proto


export interface ListBuildsRequest {
  'limit'?: (number);
}

export interface ListBuildsRequest__Output {
  'limit': (number);
}
