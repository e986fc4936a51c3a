// Original file: proto/kiln/v1/kiln.proto

import type { ArtifactFile as _kiln_v1_ArtifactFile, ArtifactFile__Output as _kiln_v1_ArtifactFile__Output } from '../../kiln/v1/ArtifactFile';

export interface Artifact {
  'builder_id'?: (string);
  'id'?: (string);
  'description'?: (string);
  'files'?: (_kiln_v1_ArtifactFile)[];
  'state'?: ({[key: string]: string});
  'build_name'?: (string);
  'job_id'?: (string);
}

export interface Artifact__Output {
  'builder_id': (string);
  'id': (string);
  'description': (string);
  'files': (_kiln_v1_ArtifactFile__Output)[];
  'state': ({[key: string]: string});
  'build_name': (string);
  'job_id': (string);
}
