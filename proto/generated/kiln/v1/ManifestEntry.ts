// Original file: proto/kiln/v1/kiln.proto


export interface ManifestEntry {
  'output'?: (string);
  'entry_json'?: (string);
  'strip_time'?: (boolean);
}

export interface ManifestEntry__Output {
  'output': (string);
  'entry_json': (string);
  'strip_time': (boolean);
}
