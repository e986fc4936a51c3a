/** coordinator: plans Packer templates into jobs, dispatches them over JetStream, serves the gRPC API. */
export { CoordinatorService, type CoordinatorServiceOptions } from "./service.js";
export { CoordinatorGrpcServer } from "./grpc_server.js";
export { watchDeadLetters } from "./dead_letter.js";
