// Original file: proto/kiln/v1/kiln.proto


export interface Workspace {
  'bundle_object'?: (string);
  'template_path'?: (string);
  'local_cwd'?: (string);
  'local_template_dir'?: (string);
}

export interface Workspace__Output {
  'bundle_object': (string);
  'template_path': (string);
  'local_cwd': (string);
  'local_template_dir': (string);
}
