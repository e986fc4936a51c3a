// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface BuildOptions {
  'on_error'?: (string);
  'force'?: (boolean);
  'debug'?: (boolean);
  'parallel_builds'?: (number);
  'timestamp_ui'?: (boolean);
  'timeout_ms'?: (number | string | Long);
  'job_timeout_ms'?: (number | string | Long);
  'max_attempts'?: (number);
  'fail_fast'?: (boolean);
  'labels'?: ({[key: string]: string});
}

export interface BuildOptions__Output {
  'on_error': (string);
  'force': (boolean);
  'debug': (boolean);
  'parallel_builds': (number);
  'timestamp_ui': (boolean);
  'timeout_ms': (string);
  'job_timeout_ms': (string);
  'max_attempts': (number);
  'fail_fast': (boolean);
  'labels': ({[key: string]: string});
}
