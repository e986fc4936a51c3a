// Original file: proto/kiln/v1/kiln.proto


export interface FileSource {
  'url'?: (string);
  'path'?: (string);
  'nats_servers'?: (string)[];
  'nats_object'?: (string);
}

export interface FileSource__Output {
  'url': (string);
  'path': (string);
  'nats_servers': (string)[];
  'nats_object': (string);
}
