// Original file: proto/kiln/v1/kiln.proto


export interface OutputFile {
  'path'?: (string);
  'content'?: (Buffer | Uint8Array | string);
  'merge_manifest'?: (boolean);
}

export interface OutputFile__Output {
  'path': (string);
  'content': (Buffer);
  'merge_manifest': (boolean);
}
