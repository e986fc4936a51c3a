// Original file: proto/kiln/v1/kiln.proto

import type { Provisioner as _kiln_v1_Provisioner, Provisioner__Output as _kiln_v1_Provisioner__Output } from '../../kiln/v1/Provisioner';
import type { PostProcessorChain as _kiln_v1_PostProcessorChain, PostProcessorChain__Output as _kiln_v1_PostProcessorChain__Output } from '../../kiln/v1/PostProcessorChain';
import type { BuildOptions as _kiln_v1_BuildOptions, BuildOptions__Output as _kiln_v1_BuildOptions__Output } from '../../kiln/v1/BuildOptions';
import type { Workspace as _kiln_v1_Workspace, Workspace__Output as _kiln_v1_Workspace__Output } from '../../kiln/v1/Workspace';
import type { RunStatics as _kiln_v1_RunStatics, RunStatics__Output as _kiln_v1_RunStatics__Output } from '../../kiln/v1/RunStatics';
import type { Long } from '@grpc/proto-loader';

export interface Job {
  'build_id'?: (string);
  'job_id'?: (string);
  'name'?: (string);
  'builder_type'?: (string);
  'builder_config_json'?: (string);
  'provisioners'?: (_kiln_v1_Provisioner)[];
  'error_cleanup_provisioner'?: (_kiln_v1_Provisioner | null);
  'has_error_cleanup_provisioner'?: (boolean);
  'post_processor_chains'?: (_kiln_v1_PostProcessorChain)[];
  'datacenter'?: (string);
  'user_variables'?: ({[key: string]: string});
  'sensitive_variables'?: (string)[];
  'options'?: (_kiln_v1_BuildOptions | null);
  'workspace'?: (_kiln_v1_Workspace | null);
  'statics'?: (_kiln_v1_RunStatics | null);
  'template_json'?: (string);
  'trace_context'?: ({[key: string]: string});
  'record_revision'?: (number | string | Long);
  'deadline_ms'?: (number | string | Long);
  'fingerprint'?: (string);
  'external_files'?: ({[key: string]: string});
}

export interface Job__Output {
  'build_id': (string);
  'job_id': (string);
  'name': (string);
  'builder_type': (string);
  'builder_config_json': (string);
  'provisioners': (_kiln_v1_Provisioner__Output)[];
  'error_cleanup_provisioner': (_kiln_v1_Provisioner__Output | null);
  'has_error_cleanup_provisioner': (boolean);
  'post_processor_chains': (_kiln_v1_PostProcessorChain__Output)[];
  'datacenter': (string);
  'user_variables': ({[key: string]: string});
  'sensitive_variables': (string)[];
  'options': (_kiln_v1_BuildOptions__Output | null);
  'workspace': (_kiln_v1_Workspace__Output | null);
  'statics': (_kiln_v1_RunStatics__Output | null);
  'template_json': (string);
  'trace_context': ({[key: string]: string});
  'record_revision': (string);
  'deadline_ms': (string);
  'fingerprint': (string);
  'external_files': ({[key: string]: string});
}
