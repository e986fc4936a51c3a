// Original file: proto/kiln/v1/kiln.proto

import type { JobState as _kiln_v1_JobState, JobState__Output as _kiln_v1_JobState__Output } from '../../kiln/v1/JobState';
import type { Failure as _kiln_v1_Failure, Failure__Output as _kiln_v1_Failure__Output } from '../../kiln/v1/Failure';
import type { Artifact as _kiln_v1_Artifact, Artifact__Output as _kiln_v1_Artifact__Output } from '../../kiln/v1/Artifact';
import type { ManifestEntry as _kiln_v1_ManifestEntry, ManifestEntry__Output as _kiln_v1_ManifestEntry__Output } from '../../kiln/v1/ManifestEntry';
import type { Long } from '@grpc/proto-loader';

export interface JobRecord {
  'build_id'?: (string);
  'job_id'?: (string);
  'name'?: (string);
  'builder_type'?: (string);
  'datacenter'?: (string);
  'state'?: (_kiln_v1_JobState);
  'attempt'?: (number);
  'agent'?: (string);
  'started_at_ms'?: (number | string | Long);
  'finished_at_ms'?: (number | string | Long);
  'failure'?: (_kiln_v1_Failure | null);
  'artifacts'?: (_kiln_v1_Artifact)[];
  'manifest_entries'?: (_kiln_v1_ManifestEntry)[];
  'subject'?: (string);
  'waiting_reason'?: (string);
}

export interface JobRecord__Output {
  'build_id': (string);
  'job_id': (string);
  'name': (string);
  'builder_type': (string);
  'datacenter': (string);
  'state': (_kiln_v1_JobState__Output);
  'attempt': (number);
  'agent': (string);
  'started_at_ms': (string);
  'finished_at_ms': (string);
  'failure': (_kiln_v1_Failure__Output | null);
  'artifacts': (_kiln_v1_Artifact__Output)[];
  'manifest_entries': (_kiln_v1_ManifestEntry__Output)[];
  'subject': (string);
  'waiting_reason': (string);
}
