import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentInfo as _kiln_v1_AgentInfo, AgentInfo__Output as _kiln_v1_AgentInfo__Output } from './kiln/v1/AgentInfo';
import type { Artifact as _kiln_v1_Artifact, Artifact__Output as _kiln_v1_Artifact__Output } from './kiln/v1/Artifact';
import type { ArtifactFile as _kiln_v1_ArtifactFile, ArtifactFile__Output as _kiln_v1_ArtifactFile__Output } from './kiln/v1/ArtifactFile';
import type { ArtifactRecord as _kiln_v1_ArtifactRecord, ArtifactRecord__Output as _kiln_v1_ArtifactRecord__Output } from './kiln/v1/ArtifactRecord';
import type { BuildOptions as _kiln_v1_BuildOptions, BuildOptions__Output as _kiln_v1_BuildOptions__Output } from './kiln/v1/BuildOptions';
import type { BuildRecord as _kiln_v1_BuildRecord, BuildRecord__Output as _kiln_v1_BuildRecord__Output } from './kiln/v1/BuildRecord';
import type { BuildStatus as _kiln_v1_BuildStatus, BuildStatus__Output as _kiln_v1_BuildStatus__Output } from './kiln/v1/BuildStatus';
import type { CancelBuildRequest as _kiln_v1_CancelBuildRequest, CancelBuildRequest__Output as _kiln_v1_CancelBuildRequest__Output } from './kiln/v1/CancelBuildRequest';
import type { ContinueBuildRequest as _kiln_v1_ContinueBuildRequest, ContinueBuildRequest__Output as _kiln_v1_ContinueBuildRequest__Output } from './kiln/v1/ContinueBuildRequest';
import type { CoordinatorClient as _kiln_v1_CoordinatorClient, CoordinatorDefinition as _kiln_v1_CoordinatorDefinition } from './kiln/v1/Coordinator';
import type { DeleteArtifactsRequest as _kiln_v1_DeleteArtifactsRequest, DeleteArtifactsRequest__Output as _kiln_v1_DeleteArtifactsRequest__Output } from './kiln/v1/DeleteArtifactsRequest';
import type { DeleteArtifactsResponse as _kiln_v1_DeleteArtifactsResponse, DeleteArtifactsResponse__Output as _kiln_v1_DeleteArtifactsResponse__Output } from './kiln/v1/DeleteArtifactsResponse';
import type { DownloadFileRequest as _kiln_v1_DownloadFileRequest, DownloadFileRequest__Output as _kiln_v1_DownloadFileRequest__Output } from './kiln/v1/DownloadFileRequest';
import type { DrainAgentRequest as _kiln_v1_DrainAgentRequest, DrainAgentRequest__Output as _kiln_v1_DrainAgentRequest__Output } from './kiln/v1/DrainAgentRequest';
import type { Failure as _kiln_v1_Failure, Failure__Output as _kiln_v1_Failure__Output } from './kiln/v1/Failure';
import type { FileChunk as _kiln_v1_FileChunk, FileChunk__Output as _kiln_v1_FileChunk__Output } from './kiln/v1/FileChunk';
import type { FileSource as _kiln_v1_FileSource, FileSource__Output as _kiln_v1_FileSource__Output } from './kiln/v1/FileSource';
import type { GetArtifactRequest as _kiln_v1_GetArtifactRequest, GetArtifactRequest__Output as _kiln_v1_GetArtifactRequest__Output } from './kiln/v1/GetArtifactRequest';
import type { GetBuildRequest as _kiln_v1_GetBuildRequest, GetBuildRequest__Output as _kiln_v1_GetBuildRequest__Output } from './kiln/v1/GetBuildRequest';
import type { Job as _kiln_v1_Job, Job__Output as _kiln_v1_Job__Output } from './kiln/v1/Job';
import type { JobEvent as _kiln_v1_JobEvent, JobEvent__Output as _kiln_v1_JobEvent__Output } from './kiln/v1/JobEvent';
import type { JobRecord as _kiln_v1_JobRecord, JobRecord__Output as _kiln_v1_JobRecord__Output } from './kiln/v1/JobRecord';
import type { JobResult as _kiln_v1_JobResult, JobResult__Output as _kiln_v1_JobResult__Output } from './kiln/v1/JobResult';
import type { ListAgentsRequest as _kiln_v1_ListAgentsRequest, ListAgentsRequest__Output as _kiln_v1_ListAgentsRequest__Output } from './kiln/v1/ListAgentsRequest';
import type { ListAgentsResponse as _kiln_v1_ListAgentsResponse, ListAgentsResponse__Output as _kiln_v1_ListAgentsResponse__Output } from './kiln/v1/ListAgentsResponse';
import type { ListArtifactsRequest as _kiln_v1_ListArtifactsRequest, ListArtifactsRequest__Output as _kiln_v1_ListArtifactsRequest__Output } from './kiln/v1/ListArtifactsRequest';
import type { ListArtifactsResponse as _kiln_v1_ListArtifactsResponse, ListArtifactsResponse__Output as _kiln_v1_ListArtifactsResponse__Output } from './kiln/v1/ListArtifactsResponse';
import type { ListBuildsRequest as _kiln_v1_ListBuildsRequest, ListBuildsRequest__Output as _kiln_v1_ListBuildsRequest__Output } from './kiln/v1/ListBuildsRequest';
import type { ListBuildsResponse as _kiln_v1_ListBuildsResponse, ListBuildsResponse__Output as _kiln_v1_ListBuildsResponse__Output } from './kiln/v1/ListBuildsResponse';
import type { LogLine as _kiln_v1_LogLine, LogLine__Output as _kiln_v1_LogLine__Output } from './kiln/v1/LogLine';
import type { ManifestEntry as _kiln_v1_ManifestEntry, ManifestEntry__Output as _kiln_v1_ManifestEntry__Output } from './kiln/v1/ManifestEntry';
import type { OutputFile as _kiln_v1_OutputFile, OutputFile__Output as _kiln_v1_OutputFile__Output } from './kiln/v1/OutputFile';
import type { PostProcessor as _kiln_v1_PostProcessor, PostProcessor__Output as _kiln_v1_PostProcessor__Output } from './kiln/v1/PostProcessor';
import type { PostProcessorChain as _kiln_v1_PostProcessorChain, PostProcessorChain__Output as _kiln_v1_PostProcessorChain__Output } from './kiln/v1/PostProcessorChain';
import type { Provisioner as _kiln_v1_Provisioner, Provisioner__Output as _kiln_v1_Provisioner__Output } from './kiln/v1/Provisioner';
import type { PruneArtifactsRequest as _kiln_v1_PruneArtifactsRequest, PruneArtifactsRequest__Output as _kiln_v1_PruneArtifactsRequest__Output } from './kiln/v1/PruneArtifactsRequest';
import type { RunStatics as _kiln_v1_RunStatics, RunStatics__Output as _kiln_v1_RunStatics__Output } from './kiln/v1/RunStatics';
import type { StateChange as _kiln_v1_StateChange, StateChange__Output as _kiln_v1_StateChange__Output } from './kiln/v1/StateChange';
import type { StepEvent as _kiln_v1_StepEvent, StepEvent__Output as _kiln_v1_StepEvent__Output } from './kiln/v1/StepEvent';
import type { StoredFile as _kiln_v1_StoredFile, StoredFile__Output as _kiln_v1_StoredFile__Output } from './kiln/v1/StoredFile';
import type { SubmitBuildRequest as _kiln_v1_SubmitBuildRequest, SubmitBuildRequest__Output as _kiln_v1_SubmitBuildRequest__Output } from './kiln/v1/SubmitBuildRequest';
import type { SubmitBuildResponse as _kiln_v1_SubmitBuildResponse, SubmitBuildResponse__Output as _kiln_v1_SubmitBuildResponse__Output } from './kiln/v1/SubmitBuildResponse';
import type { WatchBuildRequest as _kiln_v1_WatchBuildRequest, WatchBuildRequest__Output as _kiln_v1_WatchBuildRequest__Output } from './kiln/v1/WatchBuildRequest';
import type { Workspace as _kiln_v1_Workspace, Workspace__Output as _kiln_v1_Workspace__Output } from './kiln/v1/Workspace';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  kiln: {
    v1: {
      AgentInfo: MessageTypeDefinition<_kiln_v1_AgentInfo, _kiln_v1_AgentInfo__Output>
      Artifact: MessageTypeDefinition<_kiln_v1_Artifact, _kiln_v1_Artifact__Output>
      ArtifactFile: MessageTypeDefinition<_kiln_v1_ArtifactFile, _kiln_v1_ArtifactFile__Output>
      ArtifactRecord: MessageTypeDefinition<_kiln_v1_ArtifactRecord, _kiln_v1_ArtifactRecord__Output>
      BuildOptions: MessageTypeDefinition<_kiln_v1_BuildOptions, _kiln_v1_BuildOptions__Output>
      BuildRecord: MessageTypeDefinition<_kiln_v1_BuildRecord, _kiln_v1_BuildRecord__Output>
      BuildState: EnumTypeDefinition
      BuildStatus: MessageTypeDefinition<_kiln_v1_BuildStatus, _kiln_v1_BuildStatus__Output>
      CancelBuildRequest: MessageTypeDefinition<_kiln_v1_CancelBuildRequest, _kiln_v1_CancelBuildRequest__Output>
      ContinueBuildRequest: MessageTypeDefinition<_kiln_v1_ContinueBuildRequest, _kiln_v1_ContinueBuildRequest__Output>
      Coordinator: SubtypeConstructor<typeof grpc.Client, _kiln_v1_CoordinatorClient> & { service: _kiln_v1_CoordinatorDefinition }
      DeleteArtifactsRequest: MessageTypeDefinition<_kiln_v1_DeleteArtifactsRequest, _kiln_v1_DeleteArtifactsRequest__Output>
      DeleteArtifactsResponse: MessageTypeDefinition<_kiln_v1_DeleteArtifactsResponse, _kiln_v1_DeleteArtifactsResponse__Output>
      DownloadFileRequest: MessageTypeDefinition<_kiln_v1_DownloadFileRequest, _kiln_v1_DownloadFileRequest__Output>
      DrainAgentRequest: MessageTypeDefinition<_kiln_v1_DrainAgentRequest, _kiln_v1_DrainAgentRequest__Output>
      ErrorCode: EnumTypeDefinition
      Failure: MessageTypeDefinition<_kiln_v1_Failure, _kiln_v1_Failure__Output>
      FileChunk: MessageTypeDefinition<_kiln_v1_FileChunk, _kiln_v1_FileChunk__Output>
      FileSource: MessageTypeDefinition<_kiln_v1_FileSource, _kiln_v1_FileSource__Output>
      GetArtifactRequest: MessageTypeDefinition<_kiln_v1_GetArtifactRequest, _kiln_v1_GetArtifactRequest__Output>
      GetBuildRequest: MessageTypeDefinition<_kiln_v1_GetBuildRequest, _kiln_v1_GetBuildRequest__Output>
      Job: MessageTypeDefinition<_kiln_v1_Job, _kiln_v1_Job__Output>
      JobEvent: MessageTypeDefinition<_kiln_v1_JobEvent, _kiln_v1_JobEvent__Output>
      JobRecord: MessageTypeDefinition<_kiln_v1_JobRecord, _kiln_v1_JobRecord__Output>
      JobResult: MessageTypeDefinition<_kiln_v1_JobResult, _kiln_v1_JobResult__Output>
      JobState: EnumTypeDefinition
      ListAgentsRequest: MessageTypeDefinition<_kiln_v1_ListAgentsRequest, _kiln_v1_ListAgentsRequest__Output>
      ListAgentsResponse: MessageTypeDefinition<_kiln_v1_ListAgentsResponse, _kiln_v1_ListAgentsResponse__Output>
      ListArtifactsRequest: MessageTypeDefinition<_kiln_v1_ListArtifactsRequest, _kiln_v1_ListArtifactsRequest__Output>
      ListArtifactsResponse: MessageTypeDefinition<_kiln_v1_ListArtifactsResponse, _kiln_v1_ListArtifactsResponse__Output>
      ListBuildsRequest: MessageTypeDefinition<_kiln_v1_ListBuildsRequest, _kiln_v1_ListBuildsRequest__Output>
      ListBuildsResponse: MessageTypeDefinition<_kiln_v1_ListBuildsResponse, _kiln_v1_ListBuildsResponse__Output>
      LogLine: MessageTypeDefinition<_kiln_v1_LogLine, _kiln_v1_LogLine__Output>
      ManifestEntry: MessageTypeDefinition<_kiln_v1_ManifestEntry, _kiln_v1_ManifestEntry__Output>
      OutputFile: MessageTypeDefinition<_kiln_v1_OutputFile, _kiln_v1_OutputFile__Output>
      PostProcessor: MessageTypeDefinition<_kiln_v1_PostProcessor, _kiln_v1_PostProcessor__Output>
      PostProcessorChain: MessageTypeDefinition<_kiln_v1_PostProcessorChain, _kiln_v1_PostProcessorChain__Output>
      Provisioner: MessageTypeDefinition<_kiln_v1_Provisioner, _kiln_v1_Provisioner__Output>
      PruneArtifactsRequest: MessageTypeDefinition<_kiln_v1_PruneArtifactsRequest, _kiln_v1_PruneArtifactsRequest__Output>
      RunStatics: MessageTypeDefinition<_kiln_v1_RunStatics, _kiln_v1_RunStatics__Output>
      StateChange: MessageTypeDefinition<_kiln_v1_StateChange, _kiln_v1_StateChange__Output>
      StepEvent: MessageTypeDefinition<_kiln_v1_StepEvent, _kiln_v1_StepEvent__Output>
      StoredFile: MessageTypeDefinition<_kiln_v1_StoredFile, _kiln_v1_StoredFile__Output>
      SubmitBuildRequest: MessageTypeDefinition<_kiln_v1_SubmitBuildRequest, _kiln_v1_SubmitBuildRequest__Output>
      SubmitBuildResponse: MessageTypeDefinition<_kiln_v1_SubmitBuildResponse, _kiln_v1_SubmitBuildResponse__Output>
      WatchBuildRequest: MessageTypeDefinition<_kiln_v1_WatchBuildRequest, _kiln_v1_WatchBuildRequest__Output>
      Workspace: MessageTypeDefinition<_kiln_v1_Workspace, _kiln_v1_Workspace__Output>
    }
  }
}

