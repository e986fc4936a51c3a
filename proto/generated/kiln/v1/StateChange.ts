// Original file: proto/kiln/v1/kiln.proto

import type { JobState as _kiln_v1_JobState, JobState__Output as _kiln_v1_JobState__Output } from '../../kiln/v1/JobState';
import type { BuildState as _kiln_v1_BuildState, BuildState__Output as _kiln_v1_BuildState__Output } from '../../kiln/v1/BuildState';
import type { Failure as _kiln_v1_Failure, Failure__Output as _kiln_v1_Failure__Output } from '../../kiln/v1/Failure';
import type { Long } from '@grpc/proto-loader';

export interface StateChange {
  'job_state'?: (_kiln_v1_JobState);
  'build_state'?: (_kiln_v1_BuildState);
  'failure'?: (_kiln_v1_Failure | null);
  'agent'?: (string);
  'attempt'?: (number);
  'retry_in_ms'?: (number | string | Long);
  'paused'?: (boolean);
  'pause_note'?: (string);
}

export interface StateChange__Output {
  'job_state': (_kiln_v1_JobState__Output);
  'build_state': (_kiln_v1_BuildState__Output);
  'failure': (_kiln_v1_Failure__Output | null);
  'agent': (string);
  'attempt': (number);
  'retry_in_ms': (string);
  'paused': (boolean);
  'pause_note': (string);
}
