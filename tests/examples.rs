//! Keeps the deployment examples true: `examples/*.json` (ECS task definitions),
//! `examples/cloudformation.yaml`, `examples/README.md` and `Dockerfile.example`.
//!
//! Two kinds of checks. Static ones: every task definition parses and carries what
//! `RegisterTaskDefinition` needs (family, containers with name/image/essential/memory, the
//! network mode, task-level cpu/memory and awsvpc for Fargate and Managed Instances, an execution
//! role where secrets are used, volumes and dependencies that exist), every app container starts
//! through ddboot, the Agent task definitions publish what ddboot points apps at, the README
//! table lists every file, and the Dockerfile's stages fit together. Dynamic ones: for each
//! example, the real ddboot binary runs `--explain --json` exactly as the example starts it (the
//! entryPoint's flags and the command), with the container's `environment`, what ECS adds for
//! that shape (`AWS_EXECUTION_ENV`, `ECS_CONTAINER_METADATA_URI_V4`, optionally
//! `ECS_CONTAINER_METADATA_FILE`), a task metadata mock serving documents derived from the task
//! definition itself (names, images, Docker labels, network mode, launch type), and the tracer
//! files the image would hold recreated in a temp dir; the test then asserts the Agent host, its
//! source, the service tags and the tracer injection the examples' README promises.
//!
//! Network rule: every run goes through the harness's `Ddboot` builder (tests/common), which
//! clears the environment, takes IMDS and task metadata endpoints on loopback only and refuses
//! any argument or variable naming a real metadata address; [`Launch::explain`] also passes
//! `--socket-dir <temp dir>`, so no test can reach 169.254.169.254 or 169.254.170.2.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::TempDir;
// ddboot's own rule (not a copy of it): an example's Agent image must be one ddboot recognises.
use ddboot::fuzz::source::task_metadata::is_agent_image;
use mockmeta::{Behaviour, Mock};

use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/// The repository root.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Where the examples' images keep ddboot (the app stages of Dockerfile.example).
const IMAGE_DDBOOT: &str = "/usr/local/bin/ddboot";
/// ddboot's default socket directory, where the socket example mounts the Agent's sockets.
const DEFAULT_SOCKET_DIR: &str = "/var/run/datadog";
/// What the IMDS mock answers for local-ipv4: the instance the daemon Agent runs on.
const INSTANCE_IP: &str = "10.0.7.21";
/// `HostPrivateIPv4Address` of the simulated ECS container metadata files.
const FILE_IP: &str = "10.0.7.99";
/// A run longer than this is a hang: it is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(20);
/// Flags an example must not pass: the harness sets them (or their variable) for every run.
const HARNESS_FLAGS: [&str; 5] =
    ["--socket-dir", "--imds-endpoint", "--task-metadata-uri", "--metadata-file", "--explain"];
/// The CLR profiler CLSID ddboot sets for .NET.
const DOTNET_CLSID: &str = "{846F5F1C-F9AE-4B07-969E-05C26BC060D8}";
/// Examples whose app containers are run by a test below; a new example must be added here
/// (and get a test), or [`every_app_example_is_run_by_a_test`] fails.
const RUN_BY_A_TEST: [&str; 12] = [
    "ec2-bridge-python.json",
    "ec2-bridge-go.json",
    "ec2-bridge-node.json",
    "ec2-bridge-java.json",
    "ec2-bridge-dotnet.json",
    "ec2-bridge-php-fpm.json",
    "ec2-awsvpc.json",
    "fargate-sidecar.json",
    "managed-instances-sidecar.json",
    "managed-instances-daemon.json",
    "ec2-bridge-socket.json",
    "init-container.json",
];

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

fn examples_dir() -> PathBuf {
    Path::new(ROOT).join("examples")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Files directly under examples/ with this extension, sorted.
fn example_files(ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("file name").to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------
// Task definitions
// ---------------------------------------------------------------------------------------------

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    list(v, key).iter().map(|x| x.as_str().expect("a list of strings").to_string()).collect()
}

/// `environment` as (name, value) pairs.
fn environment(c: &Value) -> Vec<(String, String)> {
    list(c, "environment").iter().map(|e| (s(e, "name").to_string(), s(e, "value").to_string())).collect()
}

fn env_value<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    list(c, "environment").iter().find(|e| s(e, "name") == name).map(|e| s(e, "value"))
}

/// One example task definition.
#[derive(Clone)]
struct TaskDef {
    file: String,
    doc: Value,
}

impl TaskDef {
    fn load(file: &str) -> TaskDef {
        let text = read(&examples_dir().join(file));
        let doc = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not valid JSON: {e}"));
        TaskDef { file: file.to_string(), doc }
    }

    fn family(&self) -> &str {
        s(&self.doc, "family")
    }

    fn containers(&self) -> &[Value] {
        list(&self.doc, "containerDefinitions")
    }

    fn container(&self, name: &str) -> &Value {
        self.containers()
            .iter()
            .find(|c| s(c, "name") == name)
            .unwrap_or_else(|| panic!("{}: no container {name}", self.file))
    }

    fn compatibilities(&self) -> Vec<String> {
        strings(&self.doc, "requiresCompatibilities")
    }

    /// The task metadata `LaunchType` a task of this definition reports.
    fn launch_type(&self) -> &'static str {
        let c = self.compatibilities();
        if c.iter().any(|c| c == "FARGATE") {
            "FARGATE"
        } else if c.iter().any(|c| c == "MANAGED_INSTANCES") {
            "MANAGED_INSTANCES"
        } else {
            "EC2"
        }
    }

    /// `AWS_EXECUTION_ENV` as ECS documents it (nothing is documented for Managed Instances).
    fn execution_env(&self) -> Option<&'static str> {
        match self.launch_type() {
            "FARGATE" => Some("AWS_ECS_FARGATE"),
            "EC2" => Some("AWS_ECS_EC2"),
            _ => None,
        }
    }

    fn network_mode(&self) -> &str {
        match s(&self.doc, "networkMode") {
            "" if self.launch_type() == "EC2" => "bridge",
            "" => "awsvpc",
            mode => mode,
        }
    }

    fn task_arn(&self) -> String {
        format!("arn:aws:ecs:us-east-1:111122223333:task/default/{}0123456789abcdef", self.family())
    }

    /// Containers that others wait for with SUCCESS or COMPLETE: init containers.
    fn is_init(&self, name: &str) -> bool {
        self.containers().iter().any(|c| {
            list(c, "dependsOn")
                .iter()
                .any(|d| s(d, "containerName") == name && matches!(s(d, "condition"), "SUCCESS" | "COMPLETE"))
        })
    }

    /// The containers that run an app: neither the Agent nor an init container.
    fn apps(&self) -> Vec<&Value> {
        self.containers()
            .iter()
            .filter(|c| !is_agent_image(s(c, "image")) && !self.is_init(s(c, "name")))
            .collect()
    }

    fn app(&self) -> &Value {
        let apps = self.apps();
        assert_eq!(apps.len(), 1, "{}: expected exactly one app container", self.file);
        apps[0]
    }

    fn volume(&self, name: &str) -> &Value {
        list(&self.doc, "volumes")
            .iter()
            .find(|v| s(v, "name") == name)
            .unwrap_or_else(|| panic!("{}: no volume {name}", self.file))
    }

    /// The host path mounted at `container_path` in container `c`, if it is a host volume.
    fn host_path_at(&self, c: &Value, container_path: &str) -> Option<String> {
        let mount = list(c, "mountPoints").iter().find(|m| s(m, "containerPath") == container_path)?;
        let volume = self.volume(s(mount, "sourceVolume"));
        volume.get("host").map(|h| s(h, "sourcePath").trim_end_matches('/').to_string())
    }

    /// The document `GET $ECS_CONTAINER_METADATA_URI_V4` returns for container `index`.
    fn container_doc(&self, index: usize) -> Value {
        let c = &self.containers()[index];
        let name = s(c, "name");
        let mut labels = Map::new();
        for (k, v) in [
            ("com.amazonaws.ecs.cluster", "default".to_string()),
            ("com.amazonaws.ecs.container-name", name.to_string()),
            ("com.amazonaws.ecs.task-arn", self.task_arn()),
            ("com.amazonaws.ecs.task-definition-family", self.family().to_string()),
            ("com.amazonaws.ecs.task-definition-version", "1".to_string()),
        ] {
            labels.insert(k.into(), Value::String(v));
        }
        if let Some(docker_labels) = c.get("dockerLabels").and_then(Value::as_object) {
            labels.extend(docker_labels.clone());
        }
        let stopped = self.is_init(name);
        let status = if stopped { "STOPPED" } else { "RUNNING" };
        let mut doc = json!({
            "DockerId": format!("{:0>64x}", 0xd0c_u32 + u32::try_from(index).expect("few containers")),
            "Name": name,
            "DockerName": format!("ecs-{}-1-{name}-c4f0a1b2d3e4f5a6b701", self.family()),
            "Image": s(c, "image"),
            "ImageID": format!("sha256:{:0>64x}", 0xabc_u32 + u32::try_from(index).expect("few containers")),
            "Labels": labels,
            "DesiredStatus": status,
            "KnownStatus": status,
            "Limits": { "CPU": c.get("cpu").cloned().unwrap_or(json!(0)), "Memory": c.get("memory").cloned().unwrap_or(Value::Null) },
            "Type": "NORMAL",
            "Networks": [self.network_doc(index)],
        });
        if stopped {
            doc["ExitCode"] = json!(0);
        }
        doc
    }

    fn network_doc(&self, index: usize) -> Value {
        let mode = self.network_mode();
        let ip = match mode {
            "awsvpc" => "10.0.2.106".to_string(),
            "host" => String::new(),
            _ => format!("172.17.0.{}", index + 2),
        };
        json!({ "NetworkMode": mode, "IPv4Addresses": [ip] })
    }

    /// The document `GET $ECS_CONTAINER_METADATA_URI_V4/task` returns.
    fn task_doc(&self) -> Value {
        let containers: Vec<Value> = (0..self.containers().len()).map(|i| self.container_doc(i)).collect();
        json!({
            "Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/default",
            "TaskARN": self.task_arn(),
            "Family": self.family(),
            "Revision": "1",
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "AvailabilityZone": "us-east-1a",
            "LaunchType": self.launch_type(),
            "Containers": containers,
        })
    }

    /// A task metadata mock describing `container` of this task.
    fn task_metadata_mock(&self, container: &str) -> Mock {
        let index = self
            .containers()
            .iter()
            .position(|c| s(c, "name") == container)
            .unwrap_or_else(|| panic!("{}: no container {container}", self.file));
        Mock::start(Behaviour {
            container_json: Some(self.container_doc(index).to_string()),
            task_json: Some(self.task_doc().to_string()),
            ..Behaviour::default()
        })
    }

    /// A READY ECS container metadata file for `container` (EC2 with ECS_ENABLE_CONTAINER_METADATA).
    fn metadata_file(&self, container: &str, dir: &Path) -> PathBuf {
        let index = self.containers().iter().position(|c| s(c, "name") == container).expect("container");
        let c = &self.containers()[index];
        let doc = json!({
            "Cluster": "default",
            "ContainerInstanceARN": "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1f73d099b914411ca9ff81633b7741dd",
            "TaskARN": self.task_arn(),
            "TaskDefinitionFamily": self.family(),
            "TaskDefinitionRevision": "1",
            "ContainerID": format!("{:0>64x}", 0xd0c_u32 + u32::try_from(index).expect("few containers")),
            "ContainerName": container,
            "DockerContainerName": format!("/ecs-{}-1-{container}-c4f0a1b2d3e4f5a6b701", self.family()),
            "ImageID": format!("sha256:{:0>64x}", 0xabc_u32),
            "ImageName": s(c, "image"),
            "Networks": [self.network_doc(index)],
            "MetadataFileStatus": "READY",
            "AvailabilityZone": "us-east-1a",
            "HostPrivateIPv4Address": FILE_IP,
        });
        let path = dir.join("ecs-container-metadata.json");
        fs::write(&path, doc.to_string()).expect("write metadata file");
        path
    }
}

// ---------------------------------------------------------------------------------------------
// What the app's image holds
// ---------------------------------------------------------------------------------------------

/// The runtime an example's command runs, as ddboot's `--inject auto` should detect it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Python,
    Node,
    Java,
    Dotnet,
    Php,
    /// No injection (`--inject` not given).
    Off,
}

impl Runtime {
    fn name(self) -> Option<&'static str> {
        match self {
            Runtime::Python => Some("python"),
            Runtime::Node => Some("node"),
            Runtime::Java => Some("java"),
            Runtime::Dotnet => Some("dotnet"),
            Runtime::Php => Some("php"),
            Runtime::Off => None,
        }
    }
}

/// The image's filesystem and `ENV`, recreated under a temp dir: the tracer files ddboot looks
/// for (where the image keeps them), `PATH`, and the working directory.
struct Image {
    /// Keeps the files alive until the image is dropped.
    _root: TempDir,
    runtime: Runtime,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    /// The tracer file ddboot should find.
    tracer: Option<PathBuf>,
}

impl Image {
    /// `working_dir` is the container's `workingDirectory` (or the image's WORKDIR).
    fn new(runtime: Runtime, working_dir: Option<&str>) -> Image {
        let root = TempDir::new();
        let cwd = match working_dir {
            Some(dir) => root.path().join(dir.trim_start_matches('/')),
            None => root.path().to_path_buf(),
        };
        fs::create_dir_all(&cwd).expect("working directory");
        let bin = root.path().join("usr/local/bin");
        fs::create_dir_all(&bin).expect("bin");
        let mut env = vec![("PATH".to_string(), format!("{}:/usr/bin:/bin", bin.display()))];
        let write = |path: &Path, text: &str, mode: u32| {
            fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            fs::write(path, text).expect("write tracer file");
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
        };
        let tracer = match runtime {
            Runtime::Python => {
                // pip installs ddtrace-run and the app's console scripts next to python
                // (python:3.12-slim: /usr/local/bin), the scripts naming that python in their
                // shebang: ddboot uses the ddtrace-run beside the interpreter that runs the app.
                let python = bin.join("python");
                write(&python, "#!/bin/sh\nexec /bin/true\n", 0o755);
                for script in ["gunicorn", "uvicorn"] {
                    write(&bin.join(script), &format!("#!{}\n", python.display()), 0o755);
                }
                let path = bin.join("ddtrace-run");
                write(&path, "#!/bin/sh\nexec \"$@\"\n", 0o755);
                Some(path)
            }
            Runtime::Node => {
                // `npm install dd-trace` in the app's directory.
                let path = cwd.join("node_modules/dd-trace/init.js");
                write(&path, "module.exports = require('.').init()\n", 0o644);
                Some(fs::canonicalize(&path).expect("canonical init.js"))
            }
            Runtime::Java => {
                // The image's ENV points at its jar (ddboot also looks in /opt/datadog and co).
                let path = root.path().join("opt/datadog/dd-java-agent.jar");
                write(&path, "PK\u{3}\u{4}", 0o644);
                env.push(("DDBOOT_JAVA_AGENT".into(), path.display().to_string()));
                Some(path)
            }
            Runtime::Dotnet => {
                // Datadog's .NET package home; its Dockerfile recipe sets DD_DOTNET_TRACER_HOME.
                let home = root.path().join("opt/datadog");
                let path = home.join("Datadog.Trace.ClrProfiler.Native.so");
                write(&path, "\u{7f}ELF", 0o644);
                env.push(("DD_DOTNET_TRACER_HOME".into(), home.display().to_string()));
                Some(path)
            }
            Runtime::Php | Runtime::Off => None,
        };
        Image { _root: root, runtime, env, cwd, tracer }
    }

    /// Asserts what `--inject` did to the command and the environment.
    fn assert_injected(&self, j: &Value, original: &[String], what: &str) {
        let command: Vec<String> = strings(j, "command");
        let env = &j["env"];
        assert_eq!(j["inject"]["runtime"].as_str(), self.runtime.name(), "{what}: runtime\n{j:#}");
        let tracer = |p: &Option<PathBuf>| p.as_ref().expect("tracer file").display().to_string();
        match self.runtime {
            Runtime::Python => {
                assert_eq!(command[0], tracer(&self.tracer), "{what}: starts through ddtrace-run");
                assert_eq!(&command[1..], original, "{what}: then the original command");
            }
            Runtime::Node => {
                assert_eq!(command, original, "{what}");
                assert_eq!(env["NODE_OPTIONS"], format!("--require {}", tracer(&self.tracer)), "{what}");
            }
            Runtime::Java => {
                assert_eq!(command, original, "{what}");
                assert_eq!(
                    env["JAVA_TOOL_OPTIONS"],
                    format!("-javaagent:{}", tracer(&self.tracer)),
                    "{what}"
                );
            }
            Runtime::Dotnet => {
                assert_eq!(command, original, "{what}");
                assert_eq!(env["CORECLR_ENABLE_PROFILING"], "1", "{what}");
                assert_eq!(env["CORECLR_PROFILER"], DOTNET_CLSID, "{what}");
                assert_eq!(env["CORECLR_PROFILER_PATH"], tracer(&self.tracer), "{what}");
            }
            Runtime::Php => {
                // -d datadog.*=… settings reach every PHP-FPM worker despite clear_env.
                assert_eq!(command.first(), original.first(), "{what}");
                assert_eq!(command.last(), original.last(), "{what}");
                let settings: Vec<&str> =
                    command.windows(2).filter(|w| w[0] == "-d").map(|w| w[1].as_str()).collect();
                for (var, ini) in [
                    ("DD_AGENT_HOST", "datadog.agent_host"),
                    ("DD_ENV", "datadog.env"),
                    ("DD_SERVICE", "datadog.service"),
                    ("DD_VERSION", "datadog.version"),
                ] {
                    let value = env[var].as_str().expect("exported");
                    assert!(settings.contains(&format!("{ini}={value}").as_str()), "{what}: {ini}\n{j:#}");
                }
            }
            Runtime::Off => {
                assert_eq!(j["inject"]["mode"], "off", "{what}");
                assert_eq!(command, original, "{what}");
            }
        }
        if self.runtime != Runtime::Off {
            assert!(j["inject"]["tracer"].is_string(), "{what}: the tracer was found\n{j:#}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running ddboot as an example starts it
// ---------------------------------------------------------------------------------------------

/// One `ddboot --explain --json` run, set up like a container start, through the harness's
/// [`common::Ddboot`] (environment cleared, IMDS at a loopback mock, the loopback guard).
struct Launch {
    what: String,
    entry_point: Vec<String>,
    command: Vec<String>,
    ddboot: common::Ddboot,
    socket_dir: PathBuf,
    cwd: PathBuf,
}

impl Launch {
    /// `entry_point` and `command` as the container has them; IMDS at `imds` (a loopback mock),
    /// the Agent's sockets looked for in `socket_dir`.
    fn new(
        what: &str,
        entry_point: Vec<String>,
        command: Vec<String>,
        socket_dir: &Path,
        imds: &Mock,
    ) -> Launch {
        Launch {
            what: what.to_string(),
            entry_point,
            command,
            ddboot: common::Ddboot::new().imds(imds),
            socket_dir: socket_dir.to_path_buf(),
            cwd: PathBuf::from(ROOT),
        }
    }

    /// The app container of a task definition, with its `environment`.
    fn container(td: &TaskDef, c: &Value, socket_dir: &Path, imds: &Mock) -> Launch {
        let what = format!("{} ({})", td.file, s(c, "name"));
        let mut launch =
            Launch::new(&what, strings(c, "entryPoint"), strings(c, "command"), socket_dir, imds);
        for (k, v) in environment(c) {
            launch = launch.env(&k, &v);
        }
        launch
    }

    /// A variable of the example (its container's `environment`, its image's `ENV`).
    fn env(mut self, name: &str, value: &str) -> Launch {
        assert!(!name.starts_with("AWS_EC2_METADATA"), "harness: {name} is not for examples");
        assert!(
            !name.starts_with("ECS_CONTAINER_METADATA_URI"),
            "harness: ECS sets {name}, the harness mocks it"
        );
        self.ddboot = self.ddboot.env(name, value);
        self
    }

    /// What ECS sets in every container of the task: `AWS_EXECUTION_ENV` (when given) and the
    /// task metadata endpoint (here a loopback mock).
    fn ecs(mut self, execution_env: Option<&str>, task_metadata: &Mock) -> Launch {
        self.ddboot = self.ddboot.task_metadata(task_metadata);
        match execution_env {
            Some(value) => self.env("AWS_EXECUTION_ENV", value),
            None => self,
        }
    }

    /// The image's ENV and working directory.
    fn image(mut self, image: &Image) -> Launch {
        for (k, v) in &image.env {
            self = self.env(k, v);
        }
        self.cwd = image.cwd.clone();
        self
    }

    /// Starts `bin` (another copy of ddboot) instead of the binary under test.
    fn binary(mut self, bin: &Path) -> Launch {
        self.ddboot = self.ddboot.binary(bin);
        self
    }

    /// Runs ddboot with the entryPoint's flags, `--explain --json`, the harness's flags, then
    /// `--` and the program; returns the JSON report (exit status 0 is asserted).
    fn explain(&self) -> Value {
        let what = &self.what;
        assert!(self.entry_point.first().is_some_and(|p| p.ends_with("/ddboot")), "{what}: entryPoint[0]");
        let dashes = self.entry_point.iter().position(|a| a == "--").unwrap_or_else(|| {
            panic!("{what}: the entryPoint must end ddboot's options with \"--\"");
        });
        let flags = &self.entry_point[1..dashes];
        for flag in flags {
            assert!(
                !HARNESS_FLAGS.iter().any(|f| flag == f || flag.starts_with(&format!("{f}="))),
                "{what}: {flag} in an example would fight the test harness"
            );
        }
        let program: Vec<&String> = self.entry_point[dashes + 1..].iter().chain(&self.command).collect();
        assert!(!program.is_empty(), "{what}: no program to start");
        let ddboot = (self.ddboot.clone().args(flags))
            .args(["--explain", "--json", "--socket-dir"])
            .arg(&self.socket_dir)
            .arg("--")
            .args(program);
        let mut cmd = ddboot.command();
        cmd.current_dir(&self.cwd);
        let f = common::run_watched(cmd, WATCHDOG, &what);
        assert!(f.status.success(), "{what}: ddboot --explain exited {}\n{f:?}\n{ddboot:?}", f.status);
        let stdout = f.stdout_text();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {stdout}"))
    }
}

/// Asserts DD_ENV, DD_SERVICE, DD_VERSION: (value, origin) each.
fn assert_tags(j: &Value, expected: [(&str, &str); 3], what: &str) {
    for (name, (value, origin)) in ["DD_ENV", "DD_SERVICE", "DD_VERSION"].into_iter().zip(expected) {
        assert_eq!(j["tags"][name]["value"], value, "{what}: {name}\n{j:#}");
        assert_eq!(j["tags"][name]["origin"], origin, "{what}: {name} origin");
        assert_eq!(j["env"][name], value, "{what}: {name} exported");
    }
}

/// Tags all taken from the container's `com.datadoghq.tags.*` Docker labels.
fn label_tags(c: &Value) -> [(&str, &'static str); 3] {
    let label = |key: &str| {
        c["dockerLabels"][format!("com.datadoghq.tags.{key}")]
            .as_str()
            .expect("tag label on the app container")
    };
    [
        (label("env"), "label com.datadoghq.tags.env"),
        (label("service"), "label com.datadoghq.tags.service"),
        (label("version"), "label com.datadoghq.tags.version"),
    ]
}

/// The IMDS mock: the EC2 instance the daemon Agent runs on.
fn imds_mock() -> Mock {
    Mock::start(Behaviour { local_ipv4: INSTANCE_IP.to_string(), ..Behaviour::default() })
}

/// Asserts where the Agent was found: `source`, the host (exported as DD_AGENT_HOST; `None`: no
/// host, none exported) and the platform's `agent`.
fn assert_agent(j: &Value, source: &str, host: Option<&str>, agent: &str, what: &str) {
    assert_eq!(j["source"], source, "{what}\n{j:#}");
    assert_eq!(j["agent_host"].as_str(), host, "{what}");
    assert_eq!(j["env"].get("DD_AGENT_HOST").and_then(Value::as_str), host, "{what}: exported\n{j:#}");
    assert_eq!(j["platform"]["agent"], agent, "{what}");
}

/// Asserts a sidecar Agent at 127.0.0.1, the container `datadog-agent` of an awsvpc task.
fn assert_sidecar(j: &Value, launch_type: &str, what: &str) {
    assert_agent(j, "sidecar", Some("127.0.0.1"), "sidecar", what);
    assert_eq!(j["platform"]["launch_type"], launch_type, "{what}");
    assert_eq!(j["platform"]["network_mode"], "awsvpc", "{what}");
    assert_eq!(j["platform"]["agent_container"], "datadog-agent", "{what}");
}

fn assert_daemon_via_imdsv2(j: &Value, imds: &Mock, what: &str) {
    assert_agent(j, "imdsv2", Some(INSTANCE_IP), "daemon", what);
    assert_eq!(imds.token_puts(), 1, "{what}: one token request");
    assert_eq!(imds.tokenless_gets(), 0, "{what}: never IMDSv1 when v2 works");
}

/// An app container of an example, ready to start as the example starts it: a temp dir for the
/// Agent's sockets (and a metadata file), its own IMDS and task metadata mocks, and the image its
/// command runs in (`None`: no image, the harness's environment and the repository as cwd).
struct App {
    td: TaskDef,
    /// The container's name.
    name: String,
    dir: TempDir,
    imds: Mock,
    task_metadata: Mock,
    image: Option<Image>,
}

impl App {
    /// Container `c` of `td`, in an image for `runtime` with the container's `workingDirectory`.
    fn new(td: &TaskDef, c: &Value, runtime: Option<Runtime>) -> App {
        App {
            td: td.clone(),
            name: s(c, "name").to_string(),
            dir: TempDir::new(),
            imds: imds_mock(),
            task_metadata: td.task_metadata_mock(s(c, "name")),
            image: runtime.map(|r| Image::new(r, c.get("workingDirectory").and_then(Value::as_str))),
        }
    }

    /// The one app container of the task definition in `file`.
    fn load(file: &str, runtime: Option<Runtime>) -> App {
        let td = TaskDef::load(file);
        App::new(&td, td.app(), runtime)
    }

    fn c(&self) -> &Value {
        self.td.container(&self.name)
    }

    /// The launch as ECS starts the container, with `AWS_EXECUTION_ENV=execution_env`.
    fn launch(&self, execution_env: Option<&str>) -> Launch {
        let launch = Launch::container(&self.td, self.c(), self.dir.path(), &self.imds)
            .ecs(execution_env, &self.task_metadata);
        match &self.image {
            Some(image) => launch.image(image),
            None => launch,
        }
    }

    /// `--explain --json` with the `AWS_EXECUTION_ENV` ECS documents for the launch type.
    fn explain(&self) -> Value {
        self.launch(self.td.execution_env()).explain()
    }

    /// Asserts the tags came from the container's Docker labels and what `--inject` did.
    fn assert_labels_and_injection(&self, j: &Value, what: &str) {
        assert_tags(j, label_tags(self.c()), what);
        self.assert_injected(j, what);
    }

    fn assert_injected(&self, j: &Value, what: &str) {
        let image = self.image.as_ref().expect("started in an image");
        image.assert_injected(j, &strings(self.c(), "command"), what);
    }
}

// ---------------------------------------------------------------------------------------------
// Static checks
// ---------------------------------------------------------------------------------------------

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Every string in a JSON document.
fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            all_strings(x, out);
        }),
        _ => {}
    }
}

/// What `aws ecs register-task-definition --cli-input-json` would refuse, and what would make an
/// example misleading.
#[test]
fn task_definitions_are_complete_enough_to_register() {
    let files = example_files("json");
    assert!(files.len() >= 12, "examples/ lost task definitions: {files:?}");
    for path in files {
        let file = file_name(&path);
        let td = TaskDef::load(&file);
        let doc = &td.doc;
        let f = file.as_str();
        assert!(valid_name(td.family()), "{f}: family");
        let compat = td.compatibilities();
        assert!(!compat.is_empty(), "{f}: requiresCompatibilities");
        for c in &compat {
            assert!(["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"].contains(&c.as_str()), "{f}: {c}");
        }
        let mode = s(doc, "networkMode");
        assert!(
            ["bridge", "awsvpc", "host"].contains(&mode),
            "{f}: networkMode must be explicit, got {mode:?}"
        );
        let serverless = td.launch_type() != "EC2";
        if serverless {
            assert_eq!(mode, "awsvpc", "{f}: Fargate and Managed Instances tasks use awsvpc here");
            for key in ["cpu", "memory"] {
                let v = s(doc, key);
                assert!(v.parse::<u32>().is_ok(), "{f}: task-level {key} (a string of a number) is required");
            }
        }
        let task_memory = s(doc, "memory").parse::<u64>().ok();
        let containers = td.containers();
        assert!(!containers.is_empty(), "{f}: containerDefinitions");
        let names: Vec<&str> = containers.iter().map(|c| s(c, "name")).collect();
        let volumes: Vec<&str> = list(doc, "volumes").iter().map(|v| s(v, "name")).collect();
        let mut container_memory = 0;
        let mut uses_secrets = false;
        for c in containers {
            let name = s(c, "name");
            assert!(valid_name(name), "{f}: container name {name:?}");
            assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{f}: duplicate container {name}");
            assert!(!s(c, "image").is_empty(), "{f}/{name}: image");
            assert!(c.get("essential").is_some_and(Value::is_boolean), "{f}/{name}: essential (a boolean)");
            let memory = c.get("memory").or_else(|| c.get("memoryReservation")).and_then(Value::as_u64);
            assert!(memory.is_some() || task_memory.is_some(), "{f}/{name}: memory or memoryReservation");
            container_memory += c.get("memory").and_then(Value::as_u64).unwrap_or(0);
            for e in list(c, "environment") {
                assert!(valid_name(s(e, "name")), "{f}/{name}: environment name");
                assert!(
                    e.get("value").is_some_and(Value::is_string),
                    "{f}/{name}: environment values are strings"
                );
                assert_ne!(s(e, "name"), "DD_API_KEY", "{f}/{name}: the API key belongs in secrets");
            }
            for secret in list(c, "secrets") {
                uses_secrets = true;
                assert!(s(secret, "valueFrom").starts_with("arn:aws:"), "{f}/{name}: secret valueFrom");
            }
            if let Some(labels) = c.get("dockerLabels") {
                let labels = labels.as_object().expect("dockerLabels is an object");
                assert!(labels.values().all(Value::is_string), "{f}/{name}: label values are strings");
            }
            for p in list(c, "portMappings") {
                let port = p["containerPort"].as_u64().expect("containerPort");
                assert!(["tcp", "udp"].contains(&s(p, "protocol")), "{f}/{name}: protocol");
                if mode == "awsvpc" {
                    let host = p.get("hostPort").and_then(Value::as_u64);
                    assert!(host.is_none() || host == Some(port), "{f}/{name}: awsvpc hostPort");
                }
            }
            for d in list(c, "dependsOn") {
                let target = s(d, "containerName");
                assert!(names.contains(&target), "{f}/{name}: dependsOn {target}");
                let cond = s(d, "condition");
                assert!(["START", "COMPLETE", "SUCCESS", "HEALTHY"].contains(&cond), "{f}/{name}: {cond}");
                let dep = td.container(target);
                if matches!(cond, "SUCCESS" | "COMPLETE") {
                    assert_eq!(dep["essential"], false, "{f}: {target} must be non-essential to exit");
                }
                if cond == "HEALTHY" {
                    assert!(dep.get("healthCheck").is_some(), "{f}: {target} needs a healthCheck");
                }
            }
            for m in list(c, "mountPoints") {
                assert!(volumes.contains(&s(m, "sourceVolume")), "{f}/{name}: mountPoints volume");
                assert!(s(m, "containerPath").starts_with('/'), "{f}/{name}: containerPath");
            }
            for v in list(c, "volumesFrom") {
                assert!(names.contains(&s(v, "sourceContainer")), "{f}/{name}: volumesFrom");
            }
        }
        assert!(containers.iter().any(|c| c["essential"] == true), "{f}: no essential container");
        if let Some(total) = task_memory {
            assert!(container_memory <= total, "{f}: containers reserve more memory than the task has");
        }
        if uses_secrets {
            assert!(
                s(doc, "executionRoleArn").starts_with("arn:aws:iam::"),
                "{f}: secrets need executionRoleArn"
            );
        }
        let mut texts = Vec::new();
        all_strings(doc, &mut texts);
        for text in texts {
            for bad in common::FORBIDDEN {
                assert!(!text.contains(bad), "{f}: examples never hardcode a metadata endpoint ({text})");
            }
        }
    }
}

/// The point of every example: the app is started by ddboot, which is given the whole command.
#[test]
fn app_containers_start_through_ddboot() {
    for path in example_files("json") {
        let td = TaskDef::load(&file_name(&path));
        for c in td.apps() {
            let what = format!("{}/{}", td.file, s(c, "name"));
            let entry = strings(c, "entryPoint");
            assert!(entry.first().is_some_and(|p| p.ends_with("ddboot")), "{what}: entryPoint[0] is ddboot");
            assert!(entry.iter().any(|a| a == "--"), "{what}: entryPoint ends ddboot's options with --");
            assert!(!strings(c, "command").is_empty(), "{what}: command");
            let installed = entry[0] != IMAGE_DDBOOT;
            if installed {
                let dir = Path::new(&entry[0]).parent().expect("dir").display().to_string();
                assert!(
                    list(c, "mountPoints").iter().any(|m| s(m, "containerPath") == dir),
                    "{what}: {} must be on a mounted volume",
                    entry[0]
                );
            }
            for var in ["DD_AGENT_HOST", "DD_TRACE_AGENT_URL", "DD_DOGSTATSD_URL"] {
                assert!(
                    env_value(c, var).is_none(),
                    "{what}: {var} is ddboot's job (it keeps a value it inherits)"
                );
            }
            for var in ["AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_FILE"] {
                assert!(env_value(c, var).is_none(), "{what}: ECS sets {var}");
            }
        }
    }
}

#[test]
fn every_app_example_is_run_by_a_test() {
    for path in example_files("json") {
        let file = file_name(&path);
        let has_app = !TaskDef::load(&file).apps().is_empty();
        assert_eq!(
            has_app,
            RUN_BY_A_TEST.contains(&file.as_str()),
            "{file}: add it to RUN_BY_A_TEST and a test"
        );
    }
}

/// The README's table names every example file, and every file it names exists.
#[test]
fn examples_readme_lists_every_example() {
    let readme = read(&examples_dir().join("README.md"));
    let mut files = example_files("json");
    files.extend(example_files("yaml"));
    for path in &files {
        let name = file_name(path);
        assert!(readme.contains(&format!("`{name}`")), "examples/README.md does not mention `{name}`");
    }
    for word in readme.split('`') {
        if (word.ends_with(".json") || word.ends_with(".yaml")) && !word.contains(' ') && !word.contains('/')
        {
            assert!(
                examples_dir().join(word).is_file(),
                "examples/README.md names {word}, which does not exist"
            );
        }
    }
    assert!(readme.contains("Dockerfile.example"), "examples/README.md points at Dockerfile.example");
}

/// The daemon Agent publishes the host ports apps reach through DD_AGENT_HOST, and the socket
/// daemon puts its sockets where the socket example's app looks for them.
#[test]
fn agent_daemons_publish_what_ddboot_points_apps_at() {
    for file in ["datadog-agent-daemon.json", "datadog-agent-daemon-socket.json"] {
        let td = TaskDef::load(file);
        assert_eq!(td.launch_type(), "EC2", "{file}");
        assert_eq!(td.network_mode(), "bridge", "{file}: host ports need bridge (or host) mode");
        assert_eq!(td.containers().len(), 1, "{file}: the daemon task holds only the Agent");
        let agent = &td.containers()[0];
        assert_eq!(s(agent, "image"), "public.ecr.aws/datadog/agent:latest", "{file}");
        assert!(is_agent_image(s(agent, "image")));
        for (port, protocol) in [(8126, "tcp"), (8125, "udp")] {
            assert!(
                list(agent, "portMappings").iter().any(|p| p["hostPort"] == port
                    && p["containerPort"] == port
                    && s(p, "protocol") == protocol),
                "{file}: hostPort {port}/{protocol}"
            );
        }
        for var in ["DD_APM_ENABLED", "DD_APM_NON_LOCAL_TRAFFIC", "DD_DOGSTATSD_NON_LOCAL_TRAFFIC"] {
            assert_eq!(env_value(agent, var), Some("true"), "{file}: {var}");
        }
        assert!(
            list(agent, "secrets").iter().any(|x| s(x, "name") == "DD_API_KEY"),
            "{file}: DD_API_KEY secret"
        );
        for (host, container) in [
            ("/var/run/docker.sock", "/var/run/docker.sock"),
            ("/proc", "/host/proc"),
            ("/sys/fs/cgroup", "/host/sys/fs/cgroup"),
        ] {
            assert_eq!(td.host_path_at(agent, container).as_deref(), Some(host), "{file}: {container}");
        }
    }

    let daemon = TaskDef::load("datadog-agent-daemon-socket.json");
    let agent = &daemon.containers()[0];
    let apm = Path::new(env_value(agent, "DD_APM_RECEIVER_SOCKET").expect("DD_APM_RECEIVER_SOCKET"));
    let dsd = Path::new(env_value(agent, "DD_DOGSTATSD_SOCKET").expect("DD_DOGSTATSD_SOCKET"));
    assert_eq!(apm.file_name().expect("name"), "apm.socket", "the name ddboot looks for");
    assert_eq!(dsd.file_name().expect("name"), "dsd.socket", "the name ddboot looks for");
    assert_eq!(apm.parent(), dsd.parent(), "both sockets in one directory");
    let agent_dir = apm.parent().expect("dir").display().to_string();
    let host_dir = daemon.host_path_at(agent, &agent_dir).expect("the socket directory is a host volume");

    let app_td = TaskDef::load("ec2-bridge-socket.json");
    let app = app_td.app();
    assert!(!strings(app, "entryPoint").iter().any(|a| a.starts_with("--socket-dir")));
    assert_eq!(
        app_td.host_path_at(app, DEFAULT_SOCKET_DIR).as_deref(),
        Some(host_dir.as_str()),
        "the app mounts the Agent's socket directory at ddboot's default --socket-dir"
    );

    for file in ["fargate-sidecar.json", "managed-instances-sidecar.json"] {
        let td = TaskDef::load(file);
        let agent = td.container("datadog-agent");
        assert!(is_agent_image(s(agent, "image")), "{file}: the sidecar is recognised by its image");
        assert!(
            list(agent, "secrets").iter().any(|x| s(x, "name") == "DD_API_KEY"),
            "{file}: DD_API_KEY secret"
        );
        assert_eq!(env_value(agent, "DD_APM_ENABLED"), Some("true"), "{file}");
    }
    assert_eq!(
        env_value(TaskDef::load("fargate-sidecar.json").container("datadog-agent"), "ECS_FARGATE"),
        Some("true")
    );
}

// ---------------------------------------------------------------------------------------------
// EC2: the daemon Agent
// ---------------------------------------------------------------------------------------------

/// The bridge-mode app examples and the runtime each one's command runs.
const BRIDGE_APPS: [(&str, Runtime); 5] = [
    ("ec2-bridge-python.json", Runtime::Python),
    ("ec2-bridge-node.json", Runtime::Node),
    ("ec2-bridge-java.json", Runtime::Java),
    ("ec2-bridge-dotnet.json", Runtime::Dotnet),
    ("ec2-bridge-php-fpm.json", Runtime::Php),
];

/// EC2, bridge: no metadata file (ECS_ENABLE_CONTAINER_METADATA is off by default), so ddboot
/// asks IMDSv2 for the instance's IP, where the daemon's host ports are; the tags come from the
/// Docker labels through the task metadata endpoint; the tracer is loaded.
#[test]
fn ec2_bridge_apps_reach_the_daemon_through_imdsv2() {
    for (file, runtime) in BRIDGE_APPS {
        let app = App::load(file, Some(runtime));
        let j = app.explain();
        assert_daemon_via_imdsv2(&j, &app.imds, file);
        assert_eq!(j["platform"]["network_mode"], "bridge", "{file}");
        assert_eq!(j["platform"]["launch_type"], "EC2", "{file}");
        assert_eq!(j["platform"]["execution_env"], "AWS_ECS_EC2", "{file}");
        assert!(j["platform"]["agent_container"].is_null(), "{file}");
        app.assert_labels_and_injection(&j, file);
        assert_eq!(j["inject"]["mode"], "auto", "{file}: --inject auto from the entryPoint");
    }
}

/// Go: dd-trace-go is compiled into the app, so there is nothing to inject; ddboot only exports
/// the environment it reads (DD_AGENT_HOST from IMDSv2 in bridge mode, the tags from the labels),
/// and the command runs unchanged. The example leaves `--inject` out.
#[test]
fn ec2_bridge_go_app_gets_the_environment_only() {
    let file = "ec2-bridge-go.json";
    let td = TaskDef::load(file);
    let c = td.app();
    assert!(!strings(c, "entryPoint").iter().any(|a| a == "--inject"), "{file}: nothing to inject for Go");
    let app = App::new(&td, c, Some(Runtime::Off));
    let j = app.explain();
    assert_daemon_via_imdsv2(&j, &app.imds, file);
    assert_eq!(j["platform"]["network_mode"], "bridge", "{file}");
    app.assert_labels_and_injection(&j, file);
}

/// The same examples on instances whose ECS agent writes the container metadata file: the host
/// comes from the file and IMDS is never asked.
#[test]
fn ec2_apps_prefer_the_ecs_metadata_file() {
    let files = BRIDGE_APPS.into_iter().chain([("ec2-awsvpc.json", Runtime::Python)]);
    for (file, runtime) in files {
        let app = App::load(file, Some(runtime));
        let path = app.td.metadata_file(&app.name, app.dir.path());
        let j = app
            .launch(app.td.execution_env())
            .env("ECS_CONTAINER_METADATA_FILE", &path.display().to_string())
            .explain();
        assert_agent(&j, "metadata-file", Some(FILE_IP), "daemon", file);
        assert!(app.imds.requests().is_empty(), "{file}: no IMDS request when the file has the host");
        app.assert_labels_and_injection(&j, file);
    }
}

/// awsvpc on EC2 without an Agent in the task: not a sidecar, so the daemon through IMDSv2 (which
/// starts once the task metadata said there is no Agent container).
#[test]
fn ec2_awsvpc_app_reaches_the_daemon_not_a_sidecar() {
    let file = "ec2-awsvpc.json";
    // The container has no workingDirectory: the image's WORKDIR is its root.
    let app = App::load(file, Some(Runtime::Python));
    let j = app.explain();
    assert_daemon_via_imdsv2(&j, &app.imds, file);
    assert_eq!(j["platform"]["network_mode"], "awsvpc");
    assert_eq!(j["platform"]["launch_type"], "EC2");
    assert!(j["platform"]["agent_container"].is_null());
    let sidecar = j["attempts"].as_array().expect("attempts").iter().find(|a| a["source"] == "sidecar");
    assert_eq!(sidecar.expect("a sidecar attempt")["outcome"], "skipped", "{j:#}");
    app.assert_labels_and_injection(&j, file);
}

// ---------------------------------------------------------------------------------------------
// Sidecar Agents: Fargate, Managed Instances
// ---------------------------------------------------------------------------------------------

/// Fargate: the Agent container shares the task's network namespace, so 127.0.0.1, decided from
/// AWS_EXECUTION_ENV alone (or, without it, from LaunchType FARGATE); IMDS, which does not exist
/// on Fargate, is never asked. The tags still come from the labels.
#[test]
fn fargate_app_uses_the_sidecar_without_imds() {
    let file = "fargate-sidecar.json";
    let execution_envs = [TaskDef::load(file).execution_env(), None];
    for (app, what) in assert_sidecar_example(file, Runtime::Python, "FARGATE", &execution_envs) {
        assert!(!app.task_metadata.requests().is_empty(), "{what}: the labels come from the task metadata");
    }
}

/// Runs the app of the sidecar example `file` (its command run by `runtime`) with each
/// AWS_EXECUTION_ENV of `execution_envs`: the sidecar at 127.0.0.1 on `launch_type`, zero IMDS
/// requests (a sidecar task never asks; there is no IMDS on Fargate), the tags from the labels,
/// the tracer loaded. Returns each run's app and description.
fn assert_sidecar_example(
    file: &str,
    runtime: Runtime,
    launch_type: &str,
    execution_envs: &[Option<&str>],
) -> Vec<(App, String)> {
    let mut runs = Vec::new();
    for execution_env in execution_envs {
        let what = format!("{file}, AWS_EXECUTION_ENV={execution_env:?}");
        let app = App::load(file, Some(runtime));
        let j = app.launch(*execution_env).explain();
        assert_sidecar(&j, launch_type, &what);
        assert!(app.imds.requests().is_empty(), "{what}: zero IMDS requests in a sidecar task");
        app.assert_labels_and_injection(&j, &what);
        runs.push((app, what));
    }
    runs
}

/// Managed Instances: awsvpc with an Agent container in the task, found through the task
/// metadata, whatever AWS_EXECUTION_ENV says (AWS documents values only for EC2 and Fargate).
#[test]
fn managed_instances_app_finds_the_sidecar_in_the_task_metadata() {
    let file = "managed-instances-sidecar.json";
    assert_eq!(TaskDef::load(file).launch_type(), "MANAGED_INSTANCES");
    let execution_envs = [None, Some("AWS_ECS_EC2"), Some("AWS_ECS_MANAGED_INSTANCES")];
    assert_sidecar_example(file, Runtime::Node, "MANAGED_INSTANCES", &execution_envs);
}

/// Managed Instances with the Agent as a managed daemon: no Agent container in the task. The UDS
/// variant (`orders-api`, the Agent's socket directory mounted) gets both socket URLs; started
/// before the sockets exist, and the TCP variant (`orders-worker`) always, get the daemon bridge
/// 169.254.172.2. Never an IMDS request, with or without AWS_EXECUTION_ENV; the tags come from
/// `environment` (Docker labels are not supported on Managed Instances) and are left untouched.
#[test]
fn managed_instances_daemon_uds_and_tcp_variants() {
    let file = "managed-instances-daemon.json";
    let td = TaskDef::load(file);
    assert_eq!(td.launch_type(), "MANAGED_INSTANCES");
    assert_eq!(td.apps().len(), 2, "{file}: a UDS and a TCP app container");
    assert!(
        td.containers().iter().all(|c| c.get("dockerLabels").is_none()),
        "{file}: no Docker labels on MI"
    );
    let api = td.container("orders-api");
    let worker = td.container("orders-worker");
    assert_eq!(
        td.host_path_at(api, DEFAULT_SOCKET_DIR).as_deref(),
        Some(DEFAULT_SOCKET_DIR),
        "{file}: UDS mount"
    );
    assert!(list(worker, "mountPoints").is_empty(), "{file}: the TCP variant mounts nothing");
    for execution_env in [None, Some("AWS_ECS_MANAGED_INSTANCES")] {
        // (container, runtime, sockets present, expected source)
        let cases = [
            (api, Runtime::Node, true, "socket"),
            (api, Runtime::Node, false, "daemon-bridge"),
            (worker, Runtime::Python, false, "daemon-bridge"),
        ];
        for (c, runtime, sockets, source) in cases {
            let what =
                format!("{file} ({}), sockets {sockets}, AWS_EXECUTION_ENV={execution_env:?}", s(c, "name"));
            let app = App::new(&td, c, Some(runtime));
            let dir = &app.dir;
            let _listeners = sockets.then(|| (dir.socket("apm.socket"), dir.socket("dsd.socket")));
            let j = app.launch(execution_env).explain();
            assert_eq!(j["source"], source, "{what}\n{j:#}");
            assert!(j["platform"]["agent_container"].is_null(), "{what}");
            if sockets {
                // Host decided by the sockets, tags inherited: the task metadata is not even asked.
                assert!(app.task_metadata.requests().is_empty(), "{what}: nothing needs the task metadata");
                let url = |name: &str| format!("unix://{}", dir.path().join(name).display());
                assert_eq!(j["env"]["DD_TRACE_AGENT_URL"], url("apm.socket"), "{what}");
                assert_eq!(j["env"]["DD_DOGSTATSD_URL"], url("dsd.socket"), "{what}");
                assert!(j["env"].get("DD_AGENT_HOST").is_none(), "{what}");
            } else {
                // The harness refuses link-local strings as inputs; the answer is checked here.
                let bridge = [169, 254, 172, 2].map(|n: u8| n.to_string()).join(".");
                assert_eq!(j["env"]["DD_AGENT_HOST"], bridge.as_str(), "{what}");
                assert_eq!(j["platform"]["agent"], "daemon", "{what}");
                assert_eq!(j["platform"]["launch_type"], "MANAGED_INSTANCES", "{what}");
                assert!(j["env"].get("DD_TRACE_AGENT_URL").is_none(), "{what}: IPv4, no URL");
            }
            assert!(app.imds.requests().is_empty(), "{what}: never IMDS on Managed Instances");
            for (name, value) in environment(c) {
                if name.starts_with("DD_") {
                    assert_eq!(j["tags"][&name]["value"], value.as_str(), "{what}: {name}");
                    assert_eq!(j["tags"][&name]["origin"], "inherited", "{what}: {name}");
                }
            }
            app.assert_injected(&j, &what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Unix sockets
// ---------------------------------------------------------------------------------------------

/// The Agent's sockets in the mounted /var/run/datadog (here a temp dir with real sockets, as
/// the Agent binds them: a stream listener for traces, a datagram socket for DogStatsD): both
/// URLs are exported, no host is needed, IMDS is not asked.
#[test]
fn socket_variant_exports_both_unix_urls() {
    let file = "ec2-bridge-socket.json";
    let app = App::load(file, Some(Runtime::Python));
    let dir = &app.dir;
    let _apm = dir.socket("apm.socket");
    let _dsd = dir.socket("dsd.socket");
    let j = app.explain();
    assert_agent(&j, "socket", None, "socket", file);
    let url = |name: &str| format!("unix://{}", dir.path().join(name).display());
    assert_eq!(j["env"]["DD_TRACE_AGENT_URL"], url("apm.socket"));
    assert_eq!(j["env"]["DD_DOGSTATSD_URL"], url("dsd.socket"));
    assert!(app.imds.requests().is_empty(), "the sockets make IMDS unnecessary");
    app.assert_labels_and_injection(&j, file);
}

/// The same task started before the Agent on its instance created the sockets: ddboot still
/// points the app at the daemon's host ports (which the socket daemon keeps published).
#[test]
fn socket_variant_falls_back_to_the_host_before_the_agent_is_up() {
    let file = "ec2-bridge-socket.json";
    let app = App::load(file, None);
    let j = app.explain();
    assert_daemon_via_imdsv2(&j, &app.imds, file);
    assert!(j["env"].get("DD_TRACE_AGENT_URL").is_none());
    assert!(j["env"].get("DD_DOGSTATSD_URL").is_none());
}

// ---------------------------------------------------------------------------------------------
// The init-container pattern
// ---------------------------------------------------------------------------------------------

/// The ddboot image's entrypoint (from Dockerfile.example) installs ddboot into the shared
/// volume; the app container, which waits for it with SUCCESS, starts through that copy.
#[test]
fn init_container_installs_ddboot_then_the_app_runs_from_the_shared_volume() {
    let file = "init-container.json";
    let td = TaskDef::load(file);
    let dockerfile = Dockerfile::load();
    let install_entry = dockerfile.stage("ddboot").entrypoint();
    assert_eq!(install_entry, ["/ddboot", "--install", "/shared"]);
    let shared = install_entry[2].as_str();

    let init: Vec<&Value> = td.containers().iter().filter(|c| td.is_init(s(c, "name"))).collect();
    assert_eq!(init.len(), 1, "one init container");
    let init = init[0];
    assert!(s(init, "image").contains("/ddboot:"), "the init container runs the ddboot image");
    assert_eq!(init["essential"], false, "it exits once ddboot is installed");
    assert!(
        init.get("entryPoint").is_none() && init.get("command").is_none(),
        "the image's ENTRYPOINT does it"
    );
    let init_mount =
        list(init, "mountPoints").iter().find(|m| s(m, "containerPath") == shared).expect("/shared");
    assert_ne!(init_mount["readOnly"], true, "the init container writes the volume");

    let app = td.app();
    let depends = list(app, "dependsOn");
    assert!(
        depends.iter().any(|d| s(d, "containerName") == s(init, "name") && s(d, "condition") == "SUCCESS"),
        "the app waits for a successful install"
    );
    let app_mount = list(app, "mountPoints")
        .iter()
        .find(|m| s(m, "sourceVolume") == s(init_mount, "sourceVolume"))
        .expect("the app mounts the same volume");
    let entry = strings(app, "entryPoint");
    assert_eq!(
        entry[0],
        format!("{}/ddboot", s(app_mount, "containerPath")),
        "the command path is the installed copy"
    );

    // The volume: a temp dir standing for /shared in both containers.
    let volume = TempDir::new();
    let install = common::Ddboot::new().args(&install_entry[1..2]).arg(volume.path()).run();
    assert!(install.status.success(), "--install failed: {install:?}");
    let installed = volume.path().join("ddboot");
    let mode = fs::metadata(&installed).expect("installed").permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read(&installed).expect("read copy"),
        fs::read(common::ddboot_bin()).expect("read ddboot")
    );

    let started = App::new(&td, app, None);
    let j = started.launch(td.execution_env()).binary(&installed).explain();
    assert_daemon_via_imdsv2(&j, &started.imds, file);
    let c = app;
    let label = |k: &str| c["dockerLabels"][format!("com.datadoghq.tags.{k}")].as_str().expect("label");
    assert!(
        c["dockerLabels"].get("com.datadoghq.tags.version").is_none(),
        "this example shows the image tag"
    );
    assert_tags(
        &j,
        [
            (label("env"), "label com.datadoghq.tags.env"),
            (label("service"), "label com.datadoghq.tags.service"),
            ("1.8.0", "image tag"),
        ],
        file,
    );
    assert!(s(c, "image").ends_with(":1.8.0"));
    Image::new(Runtime::Off, None).assert_injected(&j, &strings(c, "command"), file);
    let task_doc = td.task_doc();
    let statuses: Vec<&str> = list(&task_doc, "Containers").iter().map(|c| s(c, "KnownStatus")).collect();
    assert!(statuses.contains(&"STOPPED"), "the mock lists the finished init container");
}

// ---------------------------------------------------------------------------------------------
// CloudFormation
// ---------------------------------------------------------------------------------------------

/// The value after `key:` on the first line that has it (trimmed), if any.
fn yaml_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let t = l.trim_start().trim_start_matches("- ");
        t.strip_prefix(key)?.strip_prefix(':').map(str::trim)
    })
}

/// The `key: value` lines indented under `key:`.
fn yaml_block(text: &str, key: &str) -> BTreeMap<String, String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}:"));
    let head = lines.next().expect("block key");
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The CloudFormation snippet is ec2-bridge-python.json in YAML, and starts the same way.
#[test]
fn cloudformation_snippet_starts_the_app_through_ddboot() {
    let text = read(&examples_dir().join("cloudformation.yaml"));
    for needle in ["Type: AWS::ECS::TaskDefinition", "ContainerDefinitions:", "AWSTemplateFormatVersion:"] {
        assert!(text.contains(needle), "cloudformation.yaml: {needle}");
    }
    assert!(!common::FORBIDDEN.iter().any(|bad| text.contains(bad)));
    let flow = |key: &str| -> Vec<String> {
        let raw = yaml_value(&text, key).unwrap_or_else(|| panic!("cloudformation.yaml: {key}"));
        serde_json::from_str(raw)
            .unwrap_or_else(|e| panic!("{key}: write it as a flow list of quoted strings: {e}"))
    };
    let entry = flow("EntryPoint");
    let command = flow("Command");
    let labels = yaml_block(&text, "DockerLabels");
    let image = yaml_value(&text, "Image").expect("Image");
    let image = image.trim_start_matches("!Sub").trim().trim_matches('"');
    let image = image.replace("${AWS::AccountId}", "111122223333").replace("${AWS::Region}", "us-east-1");
    assert_eq!(yaml_value(&text, "NetworkMode"), Some("bridge"));
    assert_eq!(flow("RequiresCompatibilities"), ["EC2"]);

    let json_td = TaskDef::load("ec2-bridge-python.json");
    let c = json_td.app();
    assert_eq!(entry, strings(c, "entryPoint"), "same entryPoint as ec2-bridge-python.json");
    assert_eq!(command, strings(c, "command"), "same command as ec2-bridge-python.json");
    assert_eq!(image, s(c, "image"));
    let json_labels: BTreeMap<String, String> = c["dockerLabels"]
        .as_object()
        .expect("labels")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
        .collect();
    assert_eq!(labels, json_labels);

    // Run it as deployed from the template.
    let td = TaskDef {
        file: "cloudformation.yaml".into(),
        doc: json!({
            "family": yaml_value(&text, "Family").expect("Family"),
            "requiresCompatibilities": ["EC2"],
            "networkMode": "bridge",
            "containerDefinitions": [{
                "name": yaml_value(&text, "Name").expect("Name"),
                "image": image,
                "essential": true,
                "entryPoint": entry,
                "command": command,
                "dockerLabels": labels,
            }],
        }),
    };
    // No workingDirectory in the template: the image's WORKDIR is its root.
    let app = App::new(&td, td.app(), Some(Runtime::Python));
    let j = app.explain();
    assert_daemon_via_imdsv2(&j, &app.imds, "cloudformation.yaml");
    app.assert_labels_and_injection(&j, "cloudformation.yaml");
}

// ---------------------------------------------------------------------------------------------
// Dockerfile.example
// ---------------------------------------------------------------------------------------------

/// One instruction, continuation lines joined; heredoc bodies are kept apart.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

#[derive(Debug)]
struct Stage {
    base: String,
    name: String,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all(&self, keyword: &str) -> Vec<&str> {
        self.instructions.iter().filter(|i| i.keyword == keyword).map(|i| i.args.as_str()).collect()
    }

    /// The single exec-form (JSON) value of ENTRYPOINT or CMD.
    fn exec_form(&self, keyword: &str) -> Vec<String> {
        let found = self.all(keyword);
        assert_eq!(found.len(), 1, "stage {}: exactly one {keyword}", self.name);
        serde_json::from_str(found[0])
            .unwrap_or_else(|e| panic!("stage {}: {keyword} must be exec form (JSON): {e}", self.name))
    }

    fn entrypoint(&self) -> Vec<String> {
        self.exec_form("ENTRYPOINT")
    }

    /// `ENV K=V` pairs.
    fn env(&self) -> Vec<(String, String)> {
        self.all("ENV")
            .iter()
            .flat_map(|a| a.split_whitespace())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    }

    /// (`--from` stage, sources, destination) of each `COPY --from=…`.
    fn copies_from(&self) -> Vec<(String, Vec<String>, String)> {
        self.all("COPY")
            .iter()
            .filter_map(|args| {
                let words: Vec<&str> = args.split_whitespace().collect();
                let from = words.iter().find_map(|w| w.strip_prefix("--from="))?;
                let mut paths: Vec<String> =
                    words.iter().filter(|w| !w.starts_with("--")).map(|w| (*w).to_string()).collect();
                let dest = paths.pop()?;
                Some((from.to_string(), paths, dest))
            })
            .collect()
    }
}

struct Dockerfile {
    first_line: String,
    stages: Vec<Stage>,
}

impl Dockerfile {
    fn load() -> Dockerfile {
        Dockerfile::parse(&read(&Path::new(ROOT).join("Dockerfile.example")))
    }

    fn parse(text: &str) -> Dockerfile {
        let mut stages: Vec<Stage> = Vec::new();
        let mut lines = text.lines();
        let mut pending = String::new();
        while let Some(line) = lines.next() {
            let trimmed = line.trim();
            if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            if let Some(part) = trimmed.strip_suffix('\\') {
                pending.push_str(part);
                pending.push(' ');
                continue;
            }
            pending.push_str(trimmed);
            let full = std::mem::take(&mut pending);
            let (keyword, args) = full.split_once(char::is_whitespace).unwrap_or((full.as_str(), ""));
            let keyword = keyword.to_ascii_uppercase();
            let args = args.trim().to_string();
            if let Some(rest) = args.split("<<").nth(1) {
                // Skip the heredoc body up to its delimiter.
                let delim: String = rest
                    .trim_start_matches('-')
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .filter(|c| *c != '"' && *c != '\'')
                    .collect();
                assert!(lines.by_ref().any(|l| l.trim() == delim), "unterminated heredoc {delim}");
            }
            if keyword == "FROM" {
                let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let name = match words.as_slice() {
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_string(),
                    _ => format!("#{}", stages.len()),
                };
                stages.push(Stage { base: words[0].to_string(), name, instructions: Vec::new() });
            } else {
                let stage = stages.last_mut().expect("an instruction before FROM");
                stage.instructions.push(Instruction { keyword, args });
            }
        }
        let first_line = text.lines().next().unwrap_or("").to_string();
        Dockerfile { first_line, stages }
    }

    fn stage(&self, name: &str) -> &Stage {
        self.stages
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("Dockerfile.example: no stage {name}"))
    }
}

/// The Dockerfile's build stage makes what `scripts/release.sh` ships: the same musl target
/// triples (one per `TARGETARCH`, amd64 and arm64), the same linker for each, and a smoke run
/// only where build and target architecture match.
#[test]
fn dockerfile_example_builds_what_release_sh_ships() {
    let release = read(&Path::new(ROOT).join("scripts/release.sh"));
    let triples: Vec<String> = release
        .split("RELEASE_TARGETS:-")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("release.sh: the default RELEASE_TARGETS")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(triples, ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]);
    let linker_settings = |text: &str| -> BTreeMap<String, String> {
        text.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let release_linkers = linker_settings(&release);

    let df = Dockerfile::load();
    let build = df.stage("build");
    let docker_linkers = linker_settings(&build.all("ENV").join(" "));
    assert_eq!(docker_linkers, release_linkers, "the linker settings of release.sh and the Dockerfile");
    for triple in &triples {
        let key = format!("CARGO_TARGET_{}_LINKER", triple.to_ascii_uppercase().replace('-', "_"));
        assert!(release_linkers.contains_key(&key), "release.sh sets {key}");
    }
    let runs = build.all("RUN").join("\n");
    for (arch, triple) in [("amd64", &triples[0]), ("arm64", &triples[1])] {
        assert!(runs.contains(&format!("{arch}) triple={triple} ;;")), "TARGETARCH {arch} builds {triple}");
    }
    assert!(runs.contains("rustup target add \"$triple\""), "the target is installed");
    assert!(
        runs.contains("if [ \"$TARGETARCH\" = \"$BUILDARCH\" ]; then /out/ddboot --version;"),
        "the smoke run happens where build and target architecture match"
    );
    let args: Vec<&str> = build.all("ARG");
    assert!(args.contains(&"TARGETARCH") && args.contains(&"BUILDARCH"), "ARGs {args:?}");
}

/// Stages present and wired together: the static build, the scratch ddboot image with its
/// --install entrypoint, app stages that copy ddboot from it and make it their entrypoint, a
/// distroless stage with nothing that needs a shell, and a build context that is enough to build.
#[test]
fn dockerfile_example_stages_fit_together() {
    let df = Dockerfile::load();
    assert_eq!(
        df.first_line, "# syntax=docker/dockerfile:1",
        "heredocs and cache mounts need BuildKit's syntax"
    );
    let names: Vec<&str> = df.stages.iter().map(|s| s.name.as_str()).collect();
    for expected in ["build", "ddboot", "app-python", "app-distroless"] {
        assert!(names.contains(&expected), "stage {expected} missing: {names:?}");
    }

    let build = df.stage("build");
    assert_eq!(build.base, "rust:1-alpine");
    let runs = build.all("RUN").join("\n");
    assert!(runs.contains("apk add") && runs.contains("musl-dev"), "musl-dev for the static link");
    assert!(
        runs.contains("cargo build --release --locked -p ddboot --target \"$triple\""),
        "the release build"
    );
    // The build context: everything the workspace needs to build ddboot, nothing else.
    let copied: Vec<String> = build
        .all("COPY")
        .iter()
        .flat_map(|a| a.split_whitespace().rev().skip(1))
        .map(str::to_string)
        .collect();
    let cargo_toml = read(&Path::new(ROOT).join("Cargo.toml"));
    let mut needed = vec!["Cargo.toml".to_string(), "Cargo.lock".to_string(), "src".to_string()];
    let members = cargo_toml.split("members").nth(1).and_then(|m| m.split(']').next()).unwrap_or("");
    needed.extend(members.split('"').skip(1).step_by(2).map(str::to_string));
    if Path::new(ROOT).join("build.rs").exists() {
        needed.push("build.rs".into());
    }
    for path in &needed {
        assert!(copied.contains(path), "the build stage must COPY {path}: copies {copied:?}");
        assert!(Path::new(ROOT).join(path).exists(), "{path} does not exist");
    }

    let mut produced: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let out = runs
        .split("install -D -m 0755 \"target/$triple/release/ddboot\" ")
        .nth(1)
        .expect("binary copied out");
    produced.insert("build", vec![out.split_whitespace().next().expect("path").to_string()]);
    for (i, stage) in df.stages.iter().enumerate() {
        for (from, sources, dest) in stage.copies_from() {
            let earlier: Vec<&str> = df.stages[..i].iter().map(|s| s.name.as_str()).collect();
            assert!(
                earlier.contains(&from.as_str()),
                "stage {}: COPY --from={from}: no such earlier stage",
                stage.name
            );
            if let Some(files) = produced.get(from.as_str()) {
                for src in &sources {
                    assert!(files.contains(src), "stage {}: {from} does not produce {src}", stage.name);
                }
            }
            if dest.ends_with("ddboot") {
                produced.entry(stage.name.as_str()).or_default().push(dest.clone());
            }
        }
    }

    let ddboot = df.stage("ddboot");
    assert_eq!(ddboot.base, "scratch");
    assert_eq!(ddboot.entrypoint(), ["/ddboot", "--install", "/shared"]);
    assert!(ddboot.all("RUN").is_empty(), "scratch has no shell");

    let apps: Vec<&Stage> = df
        .stages
        .iter()
        .filter(|s| s.instructions.iter().any(|i| i.keyword == "ENTRYPOINT") && s.name != "ddboot")
        .collect();
    assert!(apps.len() >= 2, "app stages");
    for app in apps {
        assert_eq!(app.entrypoint(), [IMAGE_DDBOOT, "--"], "stage {}", app.name);
        assert!(!app.exec_form("CMD").is_empty(), "stage {}: CMD", app.name);
        assert!(
            app.copies_from()
                .iter()
                .any(|(from, src, dest)| from == "ddboot" && src == &["/ddboot"] && dest == IMAGE_DDBOOT),
            "stage {}: COPY --from=ddboot /ddboot {IMAGE_DDBOOT}",
            app.name
        );
    }

    let python = df.stage("app-python");
    assert!(python.base.starts_with("python:") && python.base.ends_with("-slim"), "{}", python.base);
    assert!(python.all("RUN").iter().any(|r| r.contains("pip install") && r.contains("ddtrace")));
    assert!(python.env().contains(&("DDBOOT_INJECT".into(), "auto".into())));

    let distroless = df.stage("app-distroless");
    assert!(distroless.base.starts_with("gcr.io/distroless/"), "{}", distroless.base);
    assert!(distroless.all("RUN").is_empty(), "a distroless image has no shell to RUN with");
    assert!(distroless.all("SHELL").is_empty());
}

/// The app stages as an ECS container would start them (ENTRYPOINT + CMD, the stage's ENV and
/// WORKDIR): ddboot resolves the Agent and loads the tracer the stage installed.
#[test]
fn dockerfile_app_stages_load_their_tracer() {
    let df = Dockerfile::load();
    for (stage, runtime) in [("app-python", Runtime::Python), ("app-distroless", Runtime::Node)] {
        let st = df.stage(stage);
        let workdir = st.all("WORKDIR").last().map(|w| (*w).to_string());
        let image = Image::new(runtime, workdir.as_deref());
        let sockets = TempDir::new();
        let imds = imds_mock();
        let cmd = st.exec_form("CMD");
        let mut launch =
            Launch::new(stage, st.entrypoint(), cmd.clone(), sockets.path(), &imds).image(&image);
        for (k, v) in st.env() {
            launch = launch.env(&k, &v);
        }
        let j = launch.env("AWS_EXECUTION_ENV", "AWS_ECS_EC2").explain();
        assert_daemon_via_imdsv2(&j, &imds, stage);
        assert_eq!(j["inject"]["mode"], "auto", "{stage}: DDBOOT_INJECT=auto from ENV");
        image.assert_injected(&j, &cmd, stage);
    }
}
