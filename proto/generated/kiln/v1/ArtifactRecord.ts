// Original file: proto/kiln/v1/kiln.proto

import type { StoredFile as _kiln_v1_StoredFile, StoredFile__Output as _kiln_v1_StoredFile__Output } from '../../kiln/v1/StoredFile';
import type { Long } from '@grpc/proto-loader';

export interface ArtifactRecord {
  'id'?: (string);
  'builder_id'?: (string);
  'artifact_id'?: (string);
  'description'?: (string);
  'files'?: (_kiln_v1_StoredFile)[];
  'state'?: ({[key: string]: string});
  'agent'?: (string);
  'build_id'?: (string);
  'job_id'?: (string);
  'build_name'?: (string);
  'template_name'?: (string);
  'fingerprint'?: (string);
  'labels'?: ({[key: string]: string});
  'parent_id'?: (string);
  'created_at_ms'?: (number | string | Long);
  'store'?: (string);
  'index'?: (number);
  'count'?: (number);
  'reused_from'?: (string);
}

export interface ArtifactRecord__Output {
  'id': (string);
  'builder_id': (string);
  'artifact_id': (string);
  'description': (string);
  'files': (_kiln_v1_StoredFile__Output)[];
  'state': ({[key: string]: string});
  'agent': (string);
  'build_id': (string);
  'job_id': (string);
  'build_name': (string);
  'template_name': (string);
  'fingerprint': (string);
  'labels': ({[key: string]: string});
  'parent_id': (string);
  'created_at_ms': (string);
  'store': (string);
  'index': (number);
  'count': (number);
  'reused_from': (string);
}
