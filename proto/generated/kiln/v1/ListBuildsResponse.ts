// Original file: proto/kiln/v1/kiln.proto

import type { BuildStatus as _kiln_v1_BuildStatus, BuildStatus__Output as _kiln_v1_BuildStatus__Output } from '../../kiln/v1/BuildStatus';

export interface ListBuildsResponse {
  'builds'?: (_kiln_v1_BuildStatus)[];
}

export interface ListBuildsResponse__Output {
  'builds': (_kiln_v1_BuildStatus__Output)[];
}
