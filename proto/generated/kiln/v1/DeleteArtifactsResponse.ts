// Original file: proto/kiln/v1/kiln.proto

import type { ArtifactRecord as _kiln_v1_ArtifactRecord, ArtifactRecord__Output as _kiln_v1_ArtifactRecord__Output } from '../../kiln/v1/ArtifactRecord';

export interface DeleteArtifactsResponse {
  'deleted'?: (_kiln_v1_ArtifactRecord)[];
}

export interface DeleteArtifactsResponse__Output {
  'deleted': (_kiln_v1_ArtifactRecord__Output)[];
}
