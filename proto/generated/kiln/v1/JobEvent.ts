// Original file: proto/kiln/v1/kiln.proto

import type { LogLine as _kiln_v1_LogLine, LogLine__Output as _kiln_v1_LogLine__Output } from '../../kiln/v1/LogLine';
import type { StepEvent as _kiln_v1_StepEvent, StepEvent__Output as _kiln_v1_StepEvent__Output } from '../../kiln/v1/StepEvent';
import type { Artifact as _kiln_v1_Artifact, Artifact__Output as _kiln_v1_Artifact__Output } from '../../kiln/v1/Artifact';
import type { StateChange as _kiln_v1_StateChange, StateChange__Output as _kiln_v1_StateChange__Output } from '../../kiln/v1/StateChange';
import type { JobResult as _kiln_v1_JobResult, JobResult__Output as _kiln_v1_JobResult__Output } from '../../kiln/v1/JobResult';
import type { Long } from '@grpc/proto-loader';

export interface JobEvent {
  'build_id'?: (string);
  'job_id'?: (string);
  'name'?: (string);
  'attempt'?: (number);
  'time_ms'?: (number | string | Long);
  'log'?: (_kiln_v1_LogLine | null);
  'step'?: (_kiln_v1_StepEvent | null);
  'artifact'?: (_kiln_v1_Artifact | null);
  'state'?: (_kiln_v1_StateChange | null);
  'result'?: (_kiln_v1_JobResult | null);
  'seq'?: (number | string | Long);
  'kind'?: "log"|"step"|"artifact"|"state"|"result";
}

export interface JobEvent__Output {
  'build_id': (string);
  'job_id': (string);
  'name': (string);
  'attempt': (number);
  'time_ms': (string);
  'log'?: (_kiln_v1_LogLine__Output | null);
  'step'?: (_kiln_v1_StepEvent__Output | null);
  'artifact'?: (_kiln_v1_Artifact__Output | null);
  'state'?: (_kiln_v1_StateChange__Output | null);
  'result'?: (_kiln_v1_JobResult__Output | null);
  'seq': (string);
  'kind'?: "log"|"step"|"artifact"|"state"|"result";
}
