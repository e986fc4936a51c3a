/** The test harness: real components on ephemeral ports. */
export { TestFarm, tempDir, until, watchToEnd, type TestAgentOptions } from "./harness.js";
export { runKiln, runPacker, runScript, REPO_ROOT, PACKER, type ProcessResult } from "./cli_process.js";
export { SshServer, freePort, TEST_USER, TEST_PASSWORD, type SshServerOptions } from "./sshd.js";
export { seededRandom } from "./random.js";
export { DockerDaemon, DockerRegistry, IMAGE_USER, type DockerDaemonOptions, type DockerRegistryOptions, type TlsEndpoint } from "./dockerd.js";
export { EcrServer, ECR_TARGET, type EcrCall, type EcrServerOptions, type EcrTestKey } from "./ecr_server.js";
export { guestImage, GUEST_IP, GUEST_GATEWAY, GUEST_USER, GUEST_PASSWORD, GUEST_CMDLINE, type GuestImage } from "./guest_image.js";
export { SocksProxy, MICROSOCKS, type SocksProxyOptions } from "./socks.js";
export { S3Server, S3_TEST_CREDENTIALS } from "./s3_server.js";
export { deadPid } from "./dead_pid.js";
export { Vcsim, vcsimBinary, vcsimToolchain, type VcsimOptions } from "./vcsim.js";
export { TcpProxy } from "./tcp_proxy.js";
