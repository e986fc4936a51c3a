// Original file: proto/kiln/v1/kiln.proto


export interface PostProcessor {
  'type'?: (string);
  'name'?: (string);
  'config_json'?: (string);
  'has_keep_input_artifact'?: (boolean);
  'keep_input_artifact'?: (boolean);
}

export interface PostProcessor__Output {
  'type': (string);
  'name': (string);
  'config_json': (string);
  'has_keep_input_artifact': (boolean);
  'keep_input_artifact': (boolean);
}
