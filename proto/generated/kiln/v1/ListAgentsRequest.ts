// Original file: proto/kiln/v1/kiln.proto


export interface ListAgentsRequest {
}

export interface ListAgentsRequest__Output {
}
