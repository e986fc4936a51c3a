// Original file: proto/kiln/v1/kiln.proto


export interface FileChunk {
  'data'?: (Buffer | Uint8Array | string);
}

export interface FileChunk__Output {
  'data': (Buffer);
}
