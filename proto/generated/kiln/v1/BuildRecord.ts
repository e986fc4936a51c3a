// Original file: proto/kiln/v1/kiln.proto

import type { BuildState as _kiln_v1_BuildState, BuildState__Output as _kiln_v1_BuildState__Output } from '../../kiln/v1/BuildState';
import type { OutputFile as _kiln_v1_OutputFile, OutputFile__Output as _kiln_v1_OutputFile__Output } from '../../kiln/v1/OutputFile';
import type { BuildOptions as _kiln_v1_BuildOptions, BuildOptions__Output as _kiln_v1_BuildOptions__Output } from '../../kiln/v1/BuildOptions';
import type { Long } from '@grpc/proto-loader';

export interface BuildRecord {
  'id'?: (string);
  'state'?: (_kiln_v1_BuildState);
  'template_name'?: (string);
  'created_at_ms'?: (number | string | Long);
  'finished_at_ms'?: (number | string | Long);
  'job_ids'?: (string)[];
  'cancel_requested'?: (boolean);
  'output_files'?: (_kiln_v1_OutputFile)[];
  'options'?: (_kiln_v1_BuildOptions | null);
  'sensitive_values'?: (string)[];
  'submitted_by'?: (string);
  'held_job_ids'?: (string)[];
  'datacenter'?: (string);
  'continue_count'?: (number);
}

export interface BuildRecord__Output {
  'id': (string);
  'state': (_kiln_v1_BuildState__Output);
  'template_name': (string);
  'created_at_ms': (string);
  'finished_at_ms': (string);
  'job_ids': (string)[];
  'cancel_requested': (boolean);
  'output_files': (_kiln_v1_OutputFile__Output)[];
  'options': (_kiln_v1_BuildOptions__Output | null);
  'sensitive_values': (string)[];
  'submitted_by': (string);
  'held_job_ids': (string)[];
  'datacenter': (string);
  'continue_count': (number);
}
