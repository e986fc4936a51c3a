// Original file: proto/kiln/v1/kiln.proto

import type { BuildOptions as _kiln_v1_BuildOptions, BuildOptions__Output as _kiln_v1_BuildOptions__Output } from '../../kiln/v1/BuildOptions';

export interface SubmitBuildRequest {
  'template_json'?: (string);
  'template_name'?: (string);
  'variables'?: ({[key: string]: string});
  'only'?: (string)[];
  'except'?: (string)[];
  'options'?: (_kiln_v1_BuildOptions | null);
  'bundle'?: (Buffer | Uint8Array | string);
  'bundle_template_path'?: (string);
  'local_cwd'?: (string);
  'local_template_dir'?: (string);
  'datacenter'?: (string);
  'trace_context'?: ({[key: string]: string});
  'external_files'?: ({[key: string]: string});
}

export interface SubmitBuildRequest__Output {
  'template_json': (string);
  'template_name': (string);
  'variables': ({[key: string]: string});
  'only': (string)[];
  'except': (string)[];
  'options': (_kiln_v1_BuildOptions__Output | null);
  'bundle': (Buffer);
  'bundle_template_path': (string);
  'local_cwd': (string);
  'local_template_dir': (string);
  'datacenter': (string);
  'trace_context': ({[key: string]: string});
  'external_files': ({[key: string]: string});
}
