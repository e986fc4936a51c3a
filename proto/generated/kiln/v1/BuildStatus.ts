// Original file: proto/kiln/v1/kiln.proto

import type { BuildRecord as _kiln_v1_BuildRecord, BuildRecord__Output as _kiln_v1_BuildRecord__Output } from '../../kiln/v1/BuildRecord';
import type { JobRecord as _kiln_v1_JobRecord, JobRecord__Output as _kiln_v1_JobRecord__Output } from '../../kiln/v1/JobRecord';

export interface BuildStatus {
  'build'?: (_kiln_v1_BuildRecord | null);
  'jobs'?: (_kiln_v1_JobRecord)[];
}

export interface BuildStatus__Output {
  'build': (_kiln_v1_BuildRecord__Output | null);
  'jobs': (_kiln_v1_JobRecord__Output)[];
}
