//! A CRI client as kubelet is one: gRPC on containerd's socket through
//! k8s-cri's generated v1 clients (tonic). Each call blocks on a runtime of
//! the client's own, so the tests stay plain synchronous code; an error is
//! the call's gRPC status.

use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint, Uri};

pub type Result<T> = std::result::Result<T, tonic::Status>;

/// A call's deadline. Sandbox creation alone takes 7–9 s under TCG, and
/// StopContainer waits out its grace period: be generous.
const DEADLINE: Duration = Duration::from_secs(240);

pub struct Client {
    rt: tokio::runtime::Runtime,
    rs: RuntimeServiceClient<Channel>,
    is: ImageServiceClient<Channel>,
}

/// One RPC on one of the client's services, blocking; the response's body.
macro_rules! call {
    ($self:ident . $svc:ident . $rpc:ident ( $req:expr )) => {
        $self.rt.block_on($self.$svc.$rpc($req)).map(|r| r.into_inner())
    };
}

impl Client {
    /// Connects to the CRI socket `sock` (a unix socket: the URI is only a
    /// placeholder for tonic).
    pub fn connect(sock: &Path) -> std::io::Result<Client> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let sock = sock.to_owned();
        let connector = tower::service_fn(move |_: Uri| {
            let sock = sock.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(sock).await?))
            }
        });
        let endpoint = Endpoint::from_static("http://[::]:0").timeout(DEADLINE);
        let channel = rt.block_on(endpoint.connect_with_connector(connector)).map_err(std::io::Error::other)?;
        Ok(Client { rt, rs: RuntimeServiceClient::new(channel.clone()), is: ImageServiceClient::new(channel) })
    }

    pub fn version(&mut self) -> Result<VersionResponse> {
        call!(self.rs.version(VersionRequest { version: "v1".into() }))
    }

    pub fn status(&mut self) -> Result<RuntimeStatus> {
        Ok(call!(self.rs.status(StatusRequest { verbose: false }))?.status.unwrap_or_default())
    }

    /// The image `name` as the CRI's image store knows it, if it does.
    pub fn image_status(&mut self, name: &str) -> Result<Option<Image>> {
        let image = Some(ImageSpec { image: name.into(), ..Default::default() });
        Ok(call!(self.is.image_status(ImageStatusRequest { image, verbose: false }))?.image)
    }

    pub fn run_pod_sandbox(&mut self, config: &PodSandboxConfig, handler: &str) -> Result<String> {
        let req = RunPodSandboxRequest { config: Some(config.clone()), runtime_handler: handler.into() };
        Ok(call!(self.rs.run_pod_sandbox(req))?.pod_sandbox_id)
    }

    pub fn pod_sandbox_status(&mut self, id: &str) -> Result<PodSandboxStatus> {
        let req = PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: false };
        Ok(call!(self.rs.pod_sandbox_status(req))?.status.unwrap_or_default())
    }

    pub fn stop_pod_sandbox(&mut self, id: &str) -> Result<()> {
        call!(self.rs.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.into() })).map(drop)
    }

    pub fn remove_pod_sandbox(&mut self, id: &str) -> Result<()> {
        call!(self.rs.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id.into() })).map(drop)
    }

    pub fn list_pod_sandbox(&mut self) -> Result<Vec<PodSandbox>> {
        Ok(call!(self.rs.list_pod_sandbox(ListPodSandboxRequest { filter: None }))?.items)
    }

    pub fn create_container(
        &mut self,
        pod: &str,
        config: &ContainerConfig,
        pod_config: &PodSandboxConfig,
    ) -> Result<String> {
        let req = CreateContainerRequest {
            pod_sandbox_id: pod.into(),
            config: Some(config.clone()),
            sandbox_config: Some(pod_config.clone()),
        };
        Ok(call!(self.rs.create_container(req))?.container_id)
    }

    pub fn start_container(&mut self, id: &str) -> Result<()> {
        call!(self.rs.start_container(StartContainerRequest { container_id: id.into() })).map(drop)
    }

    /// StopContainer: SIGTERM (or the image's stop signal), then SIGKILL
    /// after `timeout` seconds.
    pub fn stop_container(&mut self, id: &str, timeout: i64) -> Result<()> {
        call!(self.rs.stop_container(StopContainerRequest { container_id: id.into(), timeout })).map(drop)
    }

    pub fn remove_container(&mut self, id: &str) -> Result<()> {
        call!(self.rs.remove_container(RemoveContainerRequest { container_id: id.into() })).map(drop)
    }

    pub fn list_containers(&mut self) -> Result<Vec<Container>> {
        Ok(call!(self.rs.list_containers(ListContainersRequest { filter: None }))?.containers)
    }

    pub fn container_status(&mut self, id: &str) -> Result<ContainerStatus> {
        let req = ContainerStatusRequest { container_id: id.into(), verbose: false };
        Ok(call!(self.rs.container_status(req))?.status.unwrap_or_default())
    }

    pub fn exec_sync(&mut self, id: &str, cmd: &[&str], timeout: i64) -> Result<ExecSyncResponse> {
        let cmd = cmd.iter().map(|s| s.to_string()).collect();
        call!(self.rs.exec_sync(ExecSyncRequest { container_id: id.into(), cmd, timeout }))
    }

    /// Exec: the URL of the streaming server to run `req` over.
    pub fn exec(&mut self, req: ExecRequest) -> Result<String> {
        Ok(call!(self.rs.exec(req))?.url)
    }

    /// Attach: the URL of the streaming server to attach over.
    pub fn attach(&mut self, req: AttachRequest) -> Result<String> {
        Ok(call!(self.rs.attach(req))?.url)
    }

    pub fn container_stats(&mut self, id: &str) -> Result<ContainerStats> {
        let req = ContainerStatsRequest { container_id: id.into() };
        Ok(call!(self.rs.container_stats(req))?.stats.unwrap_or_default())
    }

    pub fn update_container_resources(&mut self, id: &str, linux: LinuxContainerResources) -> Result<()> {
        let req = UpdateContainerResourcesRequest {
            container_id: id.into(),
            linux: Some(linux),
            windows: None,
            annotations: Default::default(),
        };
        call!(self.rs.update_container_resources(req)).map(drop)
    }

    pub fn reopen_container_log(&mut self, id: &str) -> Result<()> {
        call!(self.rs.reopen_container_log(ReopenContainerLogRequest { container_id: id.into() })).map(drop)
    }
}
