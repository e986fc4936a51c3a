// Original file: proto/kiln/v1/kiln.proto

import type { JobState as _kiln_v1_JobState, JobState__Output as _kiln_v1_JobState__Output } from '../../kiln/v1/JobState';
import type { Failure as _kiln_v1_Failure, Failure__Output as _kiln_v1_Failure__Output } from '../../kiln/v1/Failure';
import type { Artifact as _kiln_v1_Artifact, Artifact__Output as _kiln_v1_Artifact__Output } from '../../kiln/v1/Artifact';
import type { Long } from '@grpc/proto-loader';

export interface JobResult {
  'state'?: (_kiln_v1_JobState);
  'failure'?: (_kiln_v1_Failure | null);
  'artifacts'?: (_kiln_v1_Artifact)[];
  'duration_ms'?: (number | string | Long);
}

export interface JobResult__Output {
  'state': (_kiln_v1_JobState__Output);
  'failure': (_kiln_v1_Failure__Output | null);
  'artifacts': (_kiln_v1_Artifact__Output)[];
  'duration_ms': (string);
}
