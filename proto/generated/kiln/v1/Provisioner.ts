// Original file: proto/kiln/v1/kiln.proto


export interface Provisioner {
  'type'?: (string);
  'config_json'?: (string);
  'pause_before'?: (string);
  'max_retries'?: (string);
  'timeout'?: (string);
}

export interface Provisioner__Output {
  'type': (string);
  'config_json': (string);
  'pause_before': (string);
  'max_retries': (string);
  'timeout': (string);
}
