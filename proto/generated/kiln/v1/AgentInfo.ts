// Original file: proto/kiln/v1/kiln.proto

import type { Long } from '@grpc/proto-loader';

export interface AgentInfo {
  'name'?: (string);
  'host'?: (string);
  'datacenter'?: (string);
  'labels'?: ({[key: string]: string});
  'builder_types'?: (string)[];
  'slots'?: (number);
  'slots_in_use'?: (number);
  'started_at_ms'?: (number | string | Long);
  'heartbeat_at_ms'?: (number | string | Long);
  'version'?: (string);
  'running_jobs'?: (string)[];
  'draining'?: (boolean);
}

export interface AgentInfo__Output {
  'name': (string);
  'host': (string);
  'datacenter': (string);
  'labels': ({[key: string]: string});
  'builder_types': (string)[];
  'slots': (number);
  'slots_in_use': (number);
  'started_at_ms': (string);
  'heartbeat_at_ms': (string);
  'version': (string);
  'running_jobs': (string)[];
  'draining': (boolean);
}
