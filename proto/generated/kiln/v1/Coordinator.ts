// Original file: proto/kiln/v1/kiln.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentInfo as _kiln_v1_AgentInfo, AgentInfo__Output as _kiln_v1_AgentInfo__Output } from '../../kiln/v1/AgentInfo';
import type { ArtifactRecord as _kiln_v1_ArtifactRecord, ArtifactRecord__Output as _kiln_v1_ArtifactRecord__Output } from '../../kiln/v1/ArtifactRecord';
import type { BuildStatus as _kiln_v1_BuildStatus, BuildStatus__Output as _kiln_v1_BuildStatus__Output } from '../../kiln/v1/BuildStatus';
import type { CancelBuildRequest as _kiln_v1_CancelBuildRequest, CancelBuildRequest__Output as _kiln_v1_CancelBuildRequest__Output } from '../../kiln/v1/CancelBuildRequest';
import type { ContinueBuildRequest as _kiln_v1_ContinueBuildRequest, ContinueBuildRequest__Output as _kiln_v1_ContinueBuildRequest__Output } from '../../kiln/v1/ContinueBuildRequest';
import type { DeleteArtifactsRequest as _kiln_v1_DeleteArtifactsRequest, DeleteArtifactsRequest__Output as _kiln_v1_DeleteArtifactsRequest__Output } from '../../kiln/v1/DeleteArtifactsRequest';
import type { DeleteArtifactsResponse as _kiln_v1_DeleteArtifactsResponse, DeleteArtifactsResponse__Output as _kiln_v1_DeleteArtifactsResponse__Output } from '../../kiln/v1/DeleteArtifactsResponse';
import type { DownloadFileRequest as _kiln_v1_DownloadFileRequest, DownloadFileRequest__Output as _kiln_v1_DownloadFileRequest__Output } from '../../kiln/v1/DownloadFileRequest';
import type { DrainAgentRequest as _kiln_v1_DrainAgentRequest, DrainAgentRequest__Output as _kiln_v1_DrainAgentRequest__Output } from '../../kiln/v1/DrainAgentRequest';
import type { FileChunk as _kiln_v1_FileChunk, FileChunk__Output as _kiln_v1_FileChunk__Output } from '../../kiln/v1/FileChunk';
import type { FileSource as _kiln_v1_FileSource, FileSource__Output as _kiln_v1_FileSource__Output } from '../../kiln/v1/FileSource';
import type { GetArtifactRequest as _kiln_v1_GetArtifactRequest, GetArtifactRequest__Output as _kiln_v1_GetArtifactRequest__Output } from '../../kiln/v1/GetArtifactRequest';
import type { GetBuildRequest as _kiln_v1_GetBuildRequest, GetBuildRequest__Output as _kiln_v1_GetBuildRequest__Output } from '../../kiln/v1/GetBuildRequest';
import type { JobEvent as _kiln_v1_JobEvent, JobEvent__Output as _kiln_v1_JobEvent__Output } from '../../kiln/v1/JobEvent';
import type { ListAgentsRequest as _kiln_v1_ListAgentsRequest, ListAgentsRequest__Output as _kiln_v1_ListAgentsRequest__Output } from '../../kiln/v1/ListAgentsRequest';
import type { ListAgentsResponse as _kiln_v1_ListAgentsResponse, ListAgentsResponse__Output as _kiln_v1_ListAgentsResponse__Output } from '../../kiln/v1/ListAgentsResponse';
import type { ListArtifactsRequest as _kiln_v1_ListArtifactsRequest, ListArtifactsRequest__Output as _kiln_v1_ListArtifactsRequest__Output } from '../../kiln/v1/ListArtifactsRequest';
import type { ListArtifactsResponse as _kiln_v1_ListArtifactsResponse, ListArtifactsResponse__Output as _kiln_v1_ListArtifactsResponse__Output } from '../../kiln/v1/ListArtifactsResponse';
import type { ListBuildsRequest as _kiln_v1_ListBuildsRequest, ListBuildsRequest__Output as _kiln_v1_ListBuildsRequest__Output } from '../../kiln/v1/ListBuildsRequest';
import type { ListBuildsResponse as _kiln_v1_ListBuildsResponse, ListBuildsResponse__Output as _kiln_v1_ListBuildsResponse__Output } from '../../kiln/v1/ListBuildsResponse';
import type { PruneArtifactsRequest as _kiln_v1_PruneArtifactsRequest, PruneArtifactsRequest__Output as _kiln_v1_PruneArtifactsRequest__Output } from '../../kiln/v1/PruneArtifactsRequest';
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
  
  DeleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  DeleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  DeleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  DeleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  deleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  deleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  deleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  deleteArtifacts(argument: _kiln_v1_DeleteArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  
  DownloadFile(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_FileChunk__Output>;
  DownloadFile(argument: _kiln_v1_DownloadFileRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_FileChunk__Output>;
  downloadFile(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_FileChunk__Output>;
  downloadFile(argument: _kiln_v1_DownloadFileRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_kiln_v1_FileChunk__Output>;
  
  DownloadSource(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  DownloadSource(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  DownloadSource(argument: _kiln_v1_DownloadFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  DownloadSource(argument: _kiln_v1_DownloadFileRequest, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  downloadSource(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  downloadSource(argument: _kiln_v1_DownloadFileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  downloadSource(argument: _kiln_v1_DownloadFileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  downloadSource(argument: _kiln_v1_DownloadFileRequest, callback: grpc.requestCallback<_kiln_v1_FileSource__Output>): grpc.ClientUnaryCall;
  
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  DrainAgent(argument: _kiln_v1_DrainAgentRequest, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  drainAgent(argument: _kiln_v1_DrainAgentRequest, callback: grpc.requestCallback<_kiln_v1_AgentInfo__Output>): grpc.ClientUnaryCall;
  
  GetArtifact(argument: _kiln_v1_GetArtifactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  GetArtifact(argument: _kiln_v1_GetArtifactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  GetArtifact(argument: _kiln_v1_GetArtifactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  GetArtifact(argument: _kiln_v1_GetArtifactRequest, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  getArtifact(argument: _kiln_v1_GetArtifactRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  getArtifact(argument: _kiln_v1_GetArtifactRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  getArtifact(argument: _kiln_v1_GetArtifactRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  getArtifact(argument: _kiln_v1_GetArtifactRequest, callback: grpc.requestCallback<_kiln_v1_ArtifactRecord__Output>): grpc.ClientUnaryCall;
  
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
  
  ListArtifacts(argument: _kiln_v1_ListArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  ListArtifacts(argument: _kiln_v1_ListArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  ListArtifacts(argument: _kiln_v1_ListArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  ListArtifacts(argument: _kiln_v1_ListArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  listArtifacts(argument: _kiln_v1_ListArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  listArtifacts(argument: _kiln_v1_ListArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  listArtifacts(argument: _kiln_v1_ListArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  listArtifacts(argument: _kiln_v1_ListArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_ListArtifactsResponse__Output>): grpc.ClientUnaryCall;
  
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  ListBuilds(argument: _kiln_v1_ListBuildsRequest, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  listBuilds(argument: _kiln_v1_ListBuildsRequest, callback: grpc.requestCallback<_kiln_v1_ListBuildsResponse__Output>): grpc.ClientUnaryCall;
  
  PruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  PruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  PruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  PruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  pruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  pruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  pruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  pruneArtifacts(argument: _kiln_v1_PruneArtifactsRequest, callback: grpc.requestCallback<_kiln_v1_DeleteArtifactsResponse__Output>): grpc.ClientUnaryCall;
  
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
  
  DeleteArtifacts: grpc.handleUnaryCall<_kiln_v1_DeleteArtifactsRequest__Output, _kiln_v1_DeleteArtifactsResponse>;
  
  DownloadFile: grpc.handleServerStreamingCall<_kiln_v1_DownloadFileRequest__Output, _kiln_v1_FileChunk>;
  
  DownloadSource: grpc.handleUnaryCall<_kiln_v1_DownloadFileRequest__Output, _kiln_v1_FileSource>;
  
  DrainAgent: grpc.handleUnaryCall<_kiln_v1_DrainAgentRequest__Output, _kiln_v1_AgentInfo>;
  
  GetArtifact: grpc.handleUnaryCall<_kiln_v1_GetArtifactRequest__Output, _kiln_v1_ArtifactRecord>;
  
  GetBuild: grpc.handleUnaryCall<_kiln_v1_GetBuildRequest__Output, _kiln_v1_BuildStatus>;
  
  ListAgents: grpc.handleUnaryCall<_kiln_v1_ListAgentsRequest__Output, _kiln_v1_ListAgentsResponse>;
  
  ListArtifacts: grpc.handleUnaryCall<_kiln_v1_ListArtifactsRequest__Output, _kiln_v1_ListArtifactsResponse>;
  
  ListBuilds: grpc.handleUnaryCall<_kiln_v1_ListBuildsRequest__Output, _kiln_v1_ListBuildsResponse>;
  
  PruneArtifacts: grpc.handleUnaryCall<_kiln_v1_PruneArtifactsRequest__Output, _kiln_v1_DeleteArtifactsResponse>;
  
  SubmitBuild: grpc.handleUnaryCall<_kiln_v1_SubmitBuildRequest__Output, _kiln_v1_SubmitBuildResponse>;
  
  WatchBuild: grpc.handleServerStreamingCall<_kiln_v1_WatchBuildRequest__Output, _kiln_v1_JobEvent>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  CancelBuild: MethodDefinition<_kiln_v1_CancelBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_CancelBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  ContinueBuild: MethodDefinition<_kiln_v1_ContinueBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_ContinueBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  DeleteArtifacts: MethodDefinition<_kiln_v1_DeleteArtifactsRequest, _kiln_v1_DeleteArtifactsResponse, _kiln_v1_DeleteArtifactsRequest__Output, _kiln_v1_DeleteArtifactsResponse__Output>
  DownloadFile: MethodDefinition<_kiln_v1_DownloadFileRequest, _kiln_v1_FileChunk, _kiln_v1_DownloadFileRequest__Output, _kiln_v1_FileChunk__Output>
  DownloadSource: MethodDefinition<_kiln_v1_DownloadFileRequest, _kiln_v1_FileSource, _kiln_v1_DownloadFileRequest__Output, _kiln_v1_FileSource__Output>
  DrainAgent: MethodDefinition<_kiln_v1_DrainAgentRequest, _kiln_v1_AgentInfo, _kiln_v1_DrainAgentRequest__Output, _kiln_v1_AgentInfo__Output>
  GetArtifact: MethodDefinition<_kiln_v1_GetArtifactRequest, _kiln_v1_ArtifactRecord, _kiln_v1_GetArtifactRequest__Output, _kiln_v1_ArtifactRecord__Output>
  GetBuild: MethodDefinition<_kiln_v1_GetBuildRequest, _kiln_v1_BuildStatus, _kiln_v1_GetBuildRequest__Output, _kiln_v1_BuildStatus__Output>
  ListAgents: MethodDefinition<_kiln_v1_ListAgentsRequest, _kiln_v1_ListAgentsResponse, _kiln_v1_ListAgentsRequest__Output, _kiln_v1_ListAgentsResponse__Output>
  ListArtifacts: MethodDefinition<_kiln_v1_ListArtifactsRequest, _kiln_v1_ListArtifactsResponse, _kiln_v1_ListArtifactsRequest__Output, _kiln_v1_ListArtifactsResponse__Output>
  ListBuilds: MethodDefinition<_kiln_v1_ListBuildsRequest, _kiln_v1_ListBuildsResponse, _kiln_v1_ListBuildsRequest__Output, _kiln_v1_ListBuildsResponse__Output>
  PruneArtifacts: MethodDefinition<_kiln_v1_PruneArtifactsRequest, _kiln_v1_DeleteArtifactsResponse, _kiln_v1_PruneArtifactsRequest__Output, _kiln_v1_DeleteArtifactsResponse__Output>
  SubmitBuild: MethodDefinition<_kiln_v1_SubmitBuildRequest, _kiln_v1_SubmitBuildResponse, _kiln_v1_SubmitBuildRequest__Output, _kiln_v1_SubmitBuildResponse__Output>
  WatchBuild: MethodDefinition<_kiln_v1_WatchBuildRequest, _kiln_v1_JobEvent, _kiln_v1_WatchBuildRequest__Output, _kiln_v1_JobEvent__Output>
}
