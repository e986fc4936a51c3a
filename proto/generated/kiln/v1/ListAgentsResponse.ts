// Original file: proto/kiln/v1/kiln.proto

import type { AgentInfo as _kiln_v1_AgentInfo, AgentInfo__Output as _kiln_v1_AgentInfo__Output } from '../../kiln/v1/AgentInfo';

export interface ListAgentsResponse {
  'agents'?: (_kiln_v1_AgentInfo)[];
}

export interface ListAgentsResponse__Output {
  'agents': (_kiln_v1_AgentInfo__Output)[];
}
