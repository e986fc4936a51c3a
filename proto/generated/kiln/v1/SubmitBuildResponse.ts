// Original file: proto/kiln/v1/kiln.proto

import type { BuildStatus as _kiln_v1_BuildStatus, BuildStatus__Output as _kiln_v1_BuildStatus__Output } from '../../kiln/v1/BuildStatus';

export interface SubmitBuildResponse {
  'build_id'?: (string);
  'build'?: (_kiln_v1_BuildStatus | null);
}

export interface SubmitBuildResponse__Output {
  'build_id': (string);
  'build': (_kiln_v1_BuildStatus__Output | null);
}
