// Original file: proto/kiln/v1/kiln.proto


export interface DrainAgentRequest {
  'name'?: (string);
}

export interface DrainAgentRequest__Output {
  'name': (string);
}
