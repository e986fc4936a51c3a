// Original file: proto/kiln/v1/kiln.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentInfo as _kiln_v1_AgentInfo, AgentInfo__Output as _kiln_v1_AgentInfo__Output } from '../../kiln/v1/AgentInfo';
import type { BuildStatus as _kiln_v1_BuildStatus, BuildStatus__Output as _kiln_v1_BuildStatus__Output } from '../../kiln/v1/BuildStatus';
import type { CancelBuildRequest as _kiln_v1_CancelBuildRequest, CancelBuildRequest__Output as _kiln_v1_CancelBuildRequest__Output } from '../../kiln/v1/CancelBuildRequest';
import type { ContinueBuildRequest as _kiln_v1_ContinueBuildRequest, ContinueBuildRequest__Output as _kiln_v1_ContinueBuildRequest__Output } from '../../kiln/v1/ContinueBuildRequest';
import type { DrainAgentRequest as _kiln_v1_DrainAgentRequest, DrainAgentRequest__Output as _kiln_v1_DrainAgentRequest__Output } from '../../kiln/v1/DrainAgentRequest';
import type { GetBuildRequest as _kiln_v1_GetBuildRequest, GetBuildRequest__Output as _kiln_v1_GetBuildRequest__Output } from '../../kiln/v1/GetBuildRequest';
import type { JobEvent as _kiln_v1_JobEvent, JobEvent__Output as _kiln_v1_JobEvent__Output } from '../../kiln/v1/JobEvent';
import type { ListAgentsRequest as _kiln_v1_ListAgentsRequest, ListAgentsRequest__Output as _kiln_v1_ListAgentsRequest__Output } from '../../kiln/v1/ListAgentsRequest';
import type { ListAgentsResponse as _kiln_v1_ListAgentsResponse, ListAgentsResponse__Output as _kiln_v1_ListAgentsResponse__Output } from '../../kiln/v1/ListAgentsResponse';
import type { ListBuildsRequest as _kiln_v1_ListBuildsRequest, ListBuildsRequest__Output as _kiln_v1_ListBuildsRequest__Output } from '../../kiln/v1/ListBuildsRequest';
import type { ListBuildsResponse as _kiln_v1_ListBuildsResponse, ListBuildsResponse__Output as _kiln_v1_ListBuildsResponse__Output } from '../../kiln/v1/ListBuildsResponse';
import type { SubmitBuildRequest as _kiln_v1_SubmitBuildRequest, SubmitBuildRequest__Output as _kiln_v1_SubmitBuildRequest__Output } from '../../kiln/v1/SubmitBuildRequest';
import type { SubmitBuildResponse as _kiln_v1_SubmitBuildResponse, SubmitBuildResponse__Output as _kiln_v1_SubmitBuildResponse__Output } from '../../kiln/v1/SubmitBuildResponse';
import type { WatchBuildRequest as _kiln_v1_WatchBuildRequest, WatchBuildRequest__Output as _kiln_v1_WatchBuildRequest__Output } from '../../kiln/v1/WatchBuildRequest';

export interface CoordinatorClient extends grpc.Client {
  CancelBuild(argument: _kiln_v1_CancelBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  CancelBuild(argument: _kiln_v1_CancelBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  CancelBuild(argument: _kiln_v1_CancelBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  CancelBuild(argument: _kiln_v1_CancelBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  cancelBuild(argument: _kiln_v1_CancelBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  cancelBuild(argument: _kiln_v1_CancelBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  cancelBuild(argument: _kiln_v1_CancelBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  cancelBuild(argument: _kiln_v1_CancelBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  
  ContinueBuild(argument: _kiln_v1_ContinueBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  ContinueBuild(argument: _kiln_v1_ContinueBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  ContinueBuild(argument: _kiln_v1_ContinueBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  ContinueBuild(argument: _kiln_v1_ContinueBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  continueBuild(argument: _kiln_v1_ContinueBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  continueBuild(argument: _kiln_v1_ContinueBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  continueBuild(argument: _kiln_v1_ContinueBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  continueBuild(argument: _kiln_v1_ContinueBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  
  GetBuild(argument: _kiln_v1_GetBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  GetBuild(argument: _kiln_v1_GetBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  GetBuild(argument: _kiln_v1_GetBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  GetBuild(argument: _kiln_v1_GetBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  getBuild(argument: _kiln_v1_GetBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  getBuild(argument: _kiln_v1_GetBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  getBuild(argument: _kiln_v1_GetBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  getBuild(argument: _kiln_v1_GetBuildRequest, callback: grpc.requestCallback<_kiln_v1_BuildStatus__Output>): grpc.ClientUnaryCall;
  
  ListAgents(argument: _kiln_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _kiln_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _kiln_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _kiln_v1_ListAgentsRequest, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _kiln_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _kiln_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _kiln_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _kiln_v1_ListAgentsRequest, callback: grpc.requestCallback<_kiln_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  
  SubmitBuild(argument: _kiln_v1_SubmitBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  SubmitBuild(argument: _kiln_v1_SubmitBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  SubmitBuild(argument: _kiln_v1_SubmitBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  SubmitBuild(argument: _kiln_v1_SubmitBuildRequest, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  submitBuild(argument: _kiln_v1_SubmitBuildRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  submitBuild(argument: _kiln_v1_SubmitBuildRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  submitBuild(argument: _kiln_v1_SubmitBuildRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  submitBuild(argument: _kiln_v1_SubmitBuildRequest, callback: grpc.requestCallback<_kiln_v1_SubmitBuildResponse__Output>): grpc.ClientUnaryCall;
  
  WatchBuild(argument: _kiln_v1_WatchBuildRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_JobEvent__Output>;
  WatchBuild(argument: _kiln_v1_WatchBuildRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_JobEvent__Output>;
  watchBuild(argument: _kiln_v1_WatchBuildRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_JobEvent__Output>;
  watchBuild(argument: _kiln_v1_WatchBuildRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_JobEvent__Output>;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  CancelBuild: grpc.handleUnaryCall<_kiln_v1_CancelBuildRequest__Output, _kiln_v1_BuildStatus>;
  
  ContinueBuild: grpc.handleUnaryCall<_kiln_v1_ContinueBuildRequest__Output, _kiln_v1_BuildStatus>;
  
  DrainAgent: grpc.handleUnaryCall<_kiln_v1_DrainAgentRequest__Output, _kiln_v1_AgentInfo>;
  
  GetBuild: grpc.handleUnaryCall<_kiln_v1_GetBuildRequest__Output, _kiln_v1_BuildStatus>;
  
  ListAgents: grpc.handleUnaryCall<_kiln_v1_ListAgentsRequest__Output, _kiln_v1_ListAgentsResponse>;
  
  ListBuilds: grpc.handleUnaryCall<_kiln_v1_ListBuildsRequest__Output, _kiln_v1_ListBuildsResponse>;
  
  SubmitBuild: grpc.handleUnaryCall<_kiln_v1_SubmitBuildRequest__Output, _kiln_v1_SubmitBuildResponse>;
  
  WatchBuild: grpc.handleServerStreamingCall<_kiln_v1_WatchBuildRequest__Output, _kiln_v1_JobEvent>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  CancelBuild: MethodDefinition<_kiln_v1_CancelBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_CancelBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  ContinueBuild: MethodDefinition<_kiln_v1_ContinueBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_ContinueBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  DrainAgent: MethodDefinition<_kiln_v1_DrainAgentRequest, _kiln_v1_AgentInfo, _kiln_v1_DrainAgentRequest__Output, _kiln_v1_AgentInfo__Output>
  GetBuild: MethodDefinition<_kiln_v1_GetBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_GetBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  ListAgents: MethodDefinition<_kiln_v1_ListAgentsRequest, _kiln_v1_ListAgentsResponse, _kiln_v1_ListAgentsRequest__Output, _kiln_v1_ListAgentsResponse__Output>
  ListBuilds: MethodDefinition<_kiln_v1_ListBuildsRequest, _kiln_v1_ListBuildsResponse, _kiln_v1_ListBuildsRequest__Output, _kiln_v1_ListBuildsResponse__Output>
  SubmitBuild: MethodDefinition<_kiln_v1_SubmitBuildRequest, _kiln_v1_SubmitBuildResponse, _kiln_v1_SubmitBuildRequest__Output, _kiln_v1_SubmitBuildResponse__Output>
  WatchBuild: MethodDefinition<_kiln_v1_WatchBuildRequest, _kiln_v1_JobEvent, _kiln_v1_WatchBuildRequest__Output, _kiln_v1_JobEvent__Output>
}
