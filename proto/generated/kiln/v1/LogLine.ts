// Original file: proto/kiln/v1/kiln.proto


// Original file: proto/kiln/v1/kiln.proto

export const _kiln_v1_LogLine_Level = {
  LEVEL_SAY: 'LEVEL_SAY',
  LEVEL_MESSAGE: 'LEVEL_MESSAGE',
  LEVEL_ERROR: 'LEVEL_ERROR',
} as const;

export type _kiln_v1_LogLine_Level =
  | 'LEVEL_SAY'
  | 0
  | 'LEVEL_MESSAGE'
  | 1
  | 'LEVEL_ERROR'
  | 2

export type _kiln_v1_LogLine_Level__Output = typeof _kiln_v1_LogLine_Level[keyof typeof _kiln_v1_LogLine_Level]

export interface LogLine {
  'text'?: (string);
  'level'?: (_kiln_v1_LogLine_Level);
}

export interface LogLine__Output {
  'text': (string);
  'level': (_kiln_v1_LogLine_Level__Output);
}
