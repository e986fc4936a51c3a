// Original file: proto/kiln/v1/kiln.proto


export interface BuildOptions {
  'on_error'?: (string);
  'force'?: (boolean);
  'debug'?: (boolean);
  'parallel_builds'?: (number);
  'timestamp_ui'?: (boolean);
}

export interface BuildOptions__Output {
  'on_error': (string);
  'force': (boolean);
  'debug': (boolean);
  'parallel_builds': (number);
  'timestamp_ui': (boolean);
}
