// Original file: proto/kiln/v1/kiln.proto


export interface StepEvent {
  'step'?: (string);
  'finished'?: (boolean);
  'outcome'?: (string);
}

export interface StepEvent__Output {
  'step': (string);
  'finished': (boolean);
  'outcome': (string);
}
