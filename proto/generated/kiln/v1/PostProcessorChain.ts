// Original file: proto/kiln/v1/kiln.proto

import type { PostProcessor as _kiln_v1_PostProcessor, PostProcessor__Output as _kiln_v1_PostProcessor__Output } from '../../kiln/v1/PostProcessor';

export interface PostProcessorChain {
  'steps'?: (_kiln_v1_PostProcessor)[];
}

export interface PostProcessorChain__Output {
  'steps': (_kiln_v1_PostProcessor__Output)[];
}
