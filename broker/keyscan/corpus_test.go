package keyscan

// The labelled corpus: files as people write them, with keys where the
// public test cases and rules of gitleaks (cmd/generate/config/rules/aws.go),
// trufflehog (pkg/detectors/aws) and detect-secrets (plugins/aws.py and its
// tests) put them, and clean files that must give no finding, among them
// their published false positives. The cases are written here in our own
// words. {{name}} is a value made at run time (gen_test.go): {{id}} an
// AKIA key ID, {{sid}} ASIA, {{bid}} ABIA, {{cid}} ACCA, {{aid}} A3T…,
// {{secret}} a secret, {{secret%}} one URL-encoded, {{b64…}} base64 forms;
// what they hold is what a scanner should find. {{rand40}}, {{hex40}},
// {{AROA}} and the like are look-alikes that are not keys.

type corpusCase struct {
	category string
	name     string
	text     string
	hard     bool // a known miss: counted in the figures, not asserted alone
}

var corpus = []corpusCase{
	// Shared credentials and config files.
	{"credentials file", "credentials", "[default]\naws_access_key_id = {{id}}\naws_secret_access_key = {{secret}}\n", false},
	{"credentials file", "credentials-profiles", "# work\n[dev]\naws_access_key_id={{id}}\naws_secret_access_key={{secret}}\nregion=eu-west-1\n\n[ops]\naws_access_key_id = {{id}}\naws_secret_access_key = {{secret}}\n", false},
	{"credentials file", "credentials-session", "[tmp]\naws_access_key_id = {{sid}}\naws_secret_access_key = {{secret}}\naws_session_token = {{token}}\n", false},
	{"credentials file", "credentials-secret-only", "[legacy]\n; the key ID is in the vault\naws_secret_access_key={{secret}}\n", false},
	{"credentials file", "boto2.cfg", "[Credentials]\naws_access_key_id = {{id}}\naws_secret_access_key = {{secret}}\n", false},
	{"credentials file", "rclone.conf", "[s3]\ntype = s3\nprovider = AWS\naccess_key_id = {{id}}\nsecret_access_key = {{secret}}\n", false},
	{"credentials file", ".s3cfg", "[default]\naccess_key = {{id}}\nhost_base = s3.amazonaws.com\nsecret_key = {{secret}}\n", false},
	{"credentials file", "credentials-old-prefix", "[old]\naws_access_key_id = {{aid}}\naws_secret_access_key = {{secret}}\n", false},

	// Environment files and shells.
	{"env", ".env", "APP_ENV=prod\nAWS_ACCESS_KEY_ID={{id}}\nAWS_SECRET_ACCESS_KEY={{secret}}\nAWS_DEFAULT_REGION=us-east-1\n", false},
	{"env", "deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=\"{{id}}\"\nexport AWS_SECRET_ACCESS_KEY=\"{{secret}}\"\naws s3 sync dist/ s3://site\n", false},
	{"env", "profile.ps1", "$env:AWS_ACCESS_KEY_ID = '{{id}}'\n$env:AWS_SECRET_ACCESS_KEY = '{{secret}}'\n", false},
	{"env", "setup.ps1", "Set-AWSCredential -AccessKey {{id}} -SecretKey {{secret}} -StoreAs default\n", false},
	{"env", "Dockerfile", "FROM alpine:3.19\nENV AWS_ACCESS_KEY_ID={{id}} \\\n    AWS_SECRET_ACCESS_KEY={{secret}}\nRUN apk add aws-cli\n", false},
	{"env", "run.sh", "docker run --rm -e AWS_ACCESS_KEY_ID={{id}} -e AWS_SECRET_ACCESS_KEY={{secret}} amazon/aws-cli s3 ls\n", false},
	{"env", "docker-compose.yml", "services:\n  app:\n    image: app:latest\n    environment:\n      - AWS_ACCESS_KEY_ID={{id}}\n      - AWS_SECRET_ACCESS_KEY={{secret}}\n", false},
	{"env", "ci.yml", "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      AWS_ACCESS_KEY_ID: {{id}}\n      AWS_SECRET_ACCESS_KEY: {{secret}}\n", false},
	{"env", "AWS_SK", "AWS_SK={{secret}}\n", false},
	{"env", "session.env", "AWS_ACCESS_KEY_ID={{sid}}\nAWS_SECRET_ACCESS_KEY={{secret}}\nAWS_SESSION_TOKEN={{token}}\n", false},

	// SDK constructors: key ID and secret as plain arguments.
	{"sdk", "boto3_kwargs.py", "import boto3\n\ns3 = boto3.client(\"s3\", aws_access_key_id=\"{{id}}\", aws_secret_access_key=\"{{secret}}\")\n", false},
	{"sdk", "boto3_session.py", "import boto3\n\nsession = boto3.Session(\"{{id}}\", \"{{secret}}\")\n", false},
	{"sdk", "boto3_multiline.py", "import boto3\n\nclient = boto3.client(\n    \"sts\",\n    aws_access_key_id=\"{{id}}\",\n    aws_secret_access_key=\"{{secret}}\",\n)\n", false},
	{"sdk", "settings.py", "AWS_STORAGE_BUCKET_NAME = 'media'\nAWS_ACCESS_KEY_ID = '{{id}}'\nAWS_SECRET_ACCESS_KEY = '{{secret}}'\n", false},
	{"sdk", "aws_v2.js", "const AWS = require('aws-sdk');\nconst creds = new AWS.Credentials('{{id}}', '{{secret}}');\n", false},
	{"sdk", "config_update.js", "AWS.config.update({ accessKeyId: \"{{id}}\", secretAccessKey: \"{{secret}}\", region: \"us-east-1\" });\n", false},
	{"sdk", "client_v3.ts", "const client = new S3Client({\n  region: \"eu-west-1\",\n  credentials: {\n    accessKeyId: \"{{id}}\",\n    secretAccessKey: \"{{secret}}\",\n  },\n});\n", false},
	{"sdk", "static.go", "provider := credentials.NewStaticCredentialsProvider(\"{{id}}\", \"{{secret}}\", \"\")\n", false},
	{"sdk", "config.go", "cfg, err := config.LoadDefaultConfig(ctx,\n\tconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(\n\t\t\"{{id}}\",\n\t\t\"{{secret}}\",\n\t\t\"\",\n\t)),\n)\n", false},
	{"sdk", "S3Factory.java", "BasicAWSCredentials awsCreds = new BasicAWSCredentials(\"{{id}}\", \"{{secret}}\");\n", false},
	{"sdk", "Keys.java", "class Keys {\n    private static final String ACCESS_KEY = \"{{id}}\";\n    private static final String SECRET_KEY = \"{{secret}}\";\n}\n", false},
	{"sdk", "Program.cs", "var credentials = new BasicAWSCredentials(\"{{id}}\", \"{{secret}}\");\n", false},
	{"sdk", "Client.cs", "using var s3 = new AmazonS3Client(\"{{id}}\", \"{{secret}}\", RegionEndpoint.USEast1);\n", false},
	{"sdk", "upload.rb", "creds = Aws::Credentials.new('{{id}}', '{{secret}}')\n", false},
	{"sdk", "aws.rb", "Aws.config.update({\n  region: 'us-east-1',\n  credentials: Aws::Credentials.new(\n    '{{id}}',\n    '{{secret}}'\n  )\n})\n", false},
	{"sdk", "s3.php", "$s3 = new S3Client([\n    'version' => 'latest',\n    'credentials' => ['key' => '{{id}}', 'secret' => '{{secret}}'],\n]);\n", false},
	{"sdk", "app.properties", "aws.accessKeyId={{id}}\naws.secretKey={{secret}}\n", false},
	{"sdk", "application.yml", "cloud:\n  aws:\n    credentials:\n      access-key: {{id}}\n      secret-key: {{secret}}\n", false},

	// The value on the line after its name.
	{"value after name", "main.tf", "provider \"aws\" {\n  region     = \"us-west-2\"\n  access_key = \"{{id}}\"\n  secret_key = \"{{secret}}\"\n}\n", false},
	{"value after name", "variables.tf", "variable \"aws_access_key\" {\n  default = \"{{id}}\"\n}\n\nvariable \"aws_secret_key\" {\n  default = \"{{secret}}\"\n}\n", false},
	{"value after name", "secret-only.pkr.hcl", "variable \"aws_secret_key\" {\n  type      = string\n  sensitive = true\n  default   = \"{{secret}}\"\n}\n", false},
	{"value after name", "packer.json", "{\n  \"variables\": {\n    \"aws_access_key\": \"{{id}}\",\n    \"aws_secret_key\": \"{{secret}}\"\n  }\n}\n", false},
	{"value after name", "deployment.yaml", "    spec:\n      containers:\n      - name: app\n        env:\n        - name: AWS_ACCESS_KEY_ID\n          value: {{id}}\n        - name: AWS_SECRET_ACCESS_KEY\n          value: {{secret}}\n", false},
	{"value after name", "cronjob.yaml", "        env:\n        - name: AWS_ACCESS_KEY_ID\n          valueFrom:\n            secretKeyRef: {name: aws, key: id}\n        - name: AWS_SECRET_ACCESS_KEY\n          value: \"{{secret}}\"\n", false},
	{"value after name", "prod.postman_environment.json", "{\n  \"id\": \"{{uuid}}\",\n  \"name\": \"prod\",\n  \"values\": [\n    {\n      \"key\": \"accessKey\",\n      \"value\": \"{{id}}\",\n      \"type\": \"default\",\n      \"enabled\": true\n    },\n    {\n      \"key\": \"secretKey\",\n      \"value\": \"{{secret}}\",\n      \"type\": \"secret\",\n      \"enabled\": true\n    }\n  ]\n}\n", false},
	{"value after name", "collection.postman.json", "  \"auth\": {\n    \"type\": \"awsv4\",\n    \"awsv4\": [\n      {\n        \"key\": \"secretKey\",\n        \"value\": \"{{secret}}\",\n        \"type\": \"string\"\n      }\n    ]\n  }\n", false},
	{"value after name", "core-site.xml", "<configuration>\n  <property>\n    <name>fs.s3a.access.key</name>\n    <value>{{id}}</value>\n  </property>\n  <property>\n    <name>fs.s3a.secret.key</name>\n    <value>{{secret}}</value>\n  </property>\n</configuration>\n", false},
	{"value after name", "hdfs-site.xml", "<property>\n  <name>fs.s3n.awsSecretAccessKey</name>\n  <value>{{secret}}</value>\n</property>\n", false},
	{"value after name", "jenkins.xml", "<com.cloudbees.plugins.credentials.impl.StringCredentialsImpl>\n  <scope>GLOBAL</scope>\n  <id>[{{id}}]</id>\n  <secret>{AQAAABAAA .{{secret}};}</secret>\n  <description>configuration for production</description>\n</com.cloudbees.plugins.credentials.impl.StringCredentialsImpl>\n", false},
	{"value after name", "playbook.yml", "- name: upload\n  amazon.aws.s3_object:\n    aws_access_key: {{id}}\n    aws_secret_key: {{secret}}\n", false},

	// The IAM console's CSV, and id:secret pairs.
	{"csv and pairs", "accessKeys.csv", "Access key ID,Secret access key\n{{id}},{{secret}}\n", false},
	{"csv and pairs", "credentials.csv", "User name,Password,Access key ID,Secret access key,Console login link\nalice,,{{id}},{{secret}},https://123456789012.signin.aws.amazon.com/console\n", false},
	{"csv and pairs", "spark.conf", "spark.hadoop.fs.defaultFS s3n://{{id}}:{{secret%}}@logs-bucket/raw\n", false},
	{"csv and pairs", "job.py", "df = spark.read.csv(\"s3a://{{id}}:{{secret}}@data-bucket/input.csv\")\n", false},
	{"csv and pairs", "pair.txt", "{{id}}:{{secret}}\n", false},
	{"csv and pairs", "creds.env", "AWS_CREDS={{id}}:{{secret}}\n", false},
	{"csv and pairs", "tf.log", "aws credentials{\n    id: {{bid}}\n    secret: .{{secret}};\n}\n", false},
	{"csv and pairs", "notes.md", "Use key `{{id}}` with `{{secret}}` for the demo bucket.\n", false},
	{"csv and pairs", "leading-plus.txt", "You can find an aws secret {{secret+}} within aws {{id}}\n", false},
	{"csv and pairs", "context.txt", "key: {{cid}}\n  {{secret}}\n", false},

	// Other names for the secret.
	{"other names", "config.ini", "aws_key = \"{{secret}}\"\n", false},
	{"other names", "db.yml", "user: backup\npassword: {{secret}}\n", false},
	{"other names", "thingy.cfg", "aws_thingy:{{secret}}\n", false},
	{"other names", "some.cfg", "some_secret_key={{secret}}\n", false},
	{"other names", "garbage.cfg", "someGarbageInfront aws_secret: {{secret}}\n", false},
	{"other names", "dict.py", "AWS = {\"key\": \"{{id}}\", \"secret\": \"{{secret}}\"}\n", false},

	// Command and API output.
	{"output", "create-access-key.json", "{\n    \"AccessKey\": {\n        \"UserName\": \"alice\",\n        \"AccessKeyId\": \"{{id}}\",\n        \"Status\": \"Active\",\n        \"SecretAccessKey\": \"{{secret}}\",\n        \"CreateDate\": \"2024-01-01T00:00:00+00:00\"\n    }\n}\n", false},
	{"output", "session-token.json", "{\n  \"Credentials\": {\n    \"AccessKeyId\": \"{{sid}}\",\n    \"SecretAccessKey\": \"{{secret}}\",\n    \"SessionToken\": \"{{token}}\",\n    \"Expiration\": \"2024-01-01T12:00:00Z\"\n  }\n}\n", false},
	{"output", "credential_process.json", "{\"Version\":1,\"AccessKeyId\":\"{{sid}}\",\"SecretAccessKey\":\"{{secret}}\",\"SessionToken\":\"{{token}}\"}\n", false},
	{"output", "app.log", "2024-01-01T10:00:00Z INFO using AccessKeyId={{sid}} SecretAccessKey={{secret}}\n", false},
	{"output", "sigv4.txt", "Authorization: AWS4-HMAC-SHA256 Credential={{id}}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={{hex40}}\n", false},
	{"output", "presigned.txt", "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={{id}}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={{hex40}}\n", false},

	// Encoded forms.
	{"encoded", "callback.txt", "https://example.com/cb?key={{id}}&secret={{secret%}}\n", false},
	{"encoded", "escaped.json", "{\"key\":\"{{id}}\",\"secret\":\"{{secret\\/}}\"}\n", false},
	{"encoded", "secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws\ntype: Opaque\ndata:\n  AWS_ACCESS_KEY_ID: {{b64id}}\n  AWS_SECRET_ACCESS_KEY: {{b64secret}}\n", false},
	{"encoded", "secret-file.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: aws-credentials\ndata:\n  credentials: {{b64creds}}\n", false},
	{"encoded", "token.txt", "Authorization: Bearer {{jwt}}\n", false},
	{"encoded", "ci-vars.env", "AWS_CREDENTIALS_B64={{b64creds}}\n", false},
	{"encoded", "credentials.b64", "{{b64creds76}}\n", false},
	{"encoded", "credentials.pem", "-----BEGIN AWS CREDENTIALS-----\n{{b64creds64}}\n-----END AWS CREDENTIALS-----\n", false},
	{"encoded", "s3-object.json", "{\"Key\": \"accessKeys.csv\", \"Body\": \"Access key ID,Secret access key\\n{{id}},{{secret}}\\n\"}\n", false},
	{"encoded", "rows.json", "{\"rows\": [\"{{id}}\\t{{secret}}\"]}\n", false},

	// Known misses: no context says it is a secret.
	{"hard", "far.go", "const keyID = \"{{id}}\"\n\n// ...\n\n\n\n\n\n\n\nvar token = \"{{secret}}\"\n", true},
	{"hard", "bare.py", "CONFIG = {\"region\": \"us-east-1\", \"token\": \"{{secret}}\"}\n", true},
}

// clean are files that hold no real key: a scanner that reports one here
// raises a false alarm. Documented examples may be listed, not counted.
var clean = []corpusCase{
	{"examples", "README.md", "Configure the CLI:\n\n    aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", false},
	{"examples", "docs.md", "AWS_ACCESS_KEY_ID=AKIAI44QH8DHBEXAMPLE\nAWS_SECRET_ACCESS_KEY=je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n", false},
	{"placeholders", "placeholder.tf", "access_key = \"{{AKIA}}XXXXXXXXXXXXXXXX\"\nsecret_key = \"XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"\n", false},
	{"placeholders", "placeholder.env", "AWS_ACCESS_KEY_ID={{AKIA}}ZZZZZZZZZZZZZZZZ\nAWS_SECRET_ACCESS_KEY=<your secret access key>\n", false},
	{"placeholders", "test.cfg", "key = {{AKIA}}TESTTESTTESTTEST\nfalse_secret = TESTTESTTESTTESTTESTTESTTESTTESTTESTTEST\n", false},
	{"placeholders", "sequence.txt", "id = {{AKIA}}ABCDEFGHIJKLMNOP\nsecret = ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn\nother = {{ASIA}}1234567890123456\n", false},
	{"placeholders", "repeat.txt", "aws_secret_access_key = abcdABCD1234abcdABCD1234abcdABCD1234abcd\n", false},
	{"placeholders", "lower.txt", "akiazzzzzzzzzzzzzzzz\nAKIAZZZ\n", false},
	{"placeholders", "vars.tf", "provider \"aws\" {\n  access_key = var.aws_access_key\n  secret_key = var.aws_secret_key\n}\n", false},
	{"placeholders", "compose.yml", "environment:\n  AWS_ACCESS_KEY_ID: ${AWS_ACCESS_KEY_ID}\n  AWS_SECRET_ACCESS_KEY: ${AWS_SECRET_ACCESS_KEY}\n", false},
	{"placeholders", "not-a-secret.cfg", "aws_secret_access_key: not_secret_key\nmy_id: AKIAIOSFODNN7EXAMPLE\n", false},
	{"iam ids", "get-user.json", "{\n    \"User\": {\n        \"Path\": \"/\",\n        \"UserName\": \"alice\",\n        \"UserId\": \"{{AIDA}}\",\n        \"Arn\": \"arn:aws:iam::123456789012:user/alice\"\n    }\n}\n", false},
	{"iam ids", "caller.json", "{\n    \"UserId\": \"{{AROA}}:botocore-session-1700000000\",\n    \"Account\": \"123456789012\",\n    \"Arn\": \"arn:aws:sts::123456789012:assumed-role/dev/botocore-session-1700000000\"\n}\n", false},
	{"iam ids", "outputs.txt", "group {{AGPA}}\npolicy {{ANPA}}\nversion {{ANVA}}\nprofile {{AIPA}}\ncertificate {{ASCA}}\n", false},
	{"iam ids", "signed-url.txt", "https://d111111abcdef8.cloudfront.net/image.jpg?Expires=1700000000&Signature={{b64-88}}&Key-Pair-Id={{APKA}}\n", false},
	{"iam ids", "role.json", "{\"RoleId\": \"{{AROA}}\", \"RoleName\": \"deploy\", \"secret_arn\": \"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\"}\n", false},
	{"hashes", "git.log", "commit {{hex40}}\nAuthor: A <a@example.com>\n\n    rotate the secret\n\ncommit {{hex40}}\n", false},
	{"hashes", "sha1sums", "{{HEX40}}  secret.txt\n{{hex40}}  other.txt\n", false},
	{"hashes", "go.sum", "github.com/aws/aws-sdk-go-v2 v1.30.0 h1:{{b64-44}}\ngithub.com/aws/aws-sdk-go-v2 v1.30.0/go.mod h1:{{b64-44}}\n", false},
	{"hashes", "package-lock.json", "\"node_modules/secret-handshake\": {\n  \"version\": \"1.0.0\",\n  \"integrity\": \"sha512-{{b64-88}}\"\n}\n", false},
	{"hashes", "yarn.lock", "secret-handshake@^1.0.0:\n  resolved \"https://registry.yarnpkg.com/s/-/s-1.0.0.tgz#{{hex40}}\"\n", false},
	{"keys", "id_ed25519.pub", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{{b64-44}} alice@laptop\n", false},
	{"keys", "ca.crt.b64", "{{b64-64}}\n{{b64-64}}\n{{b64-64}}\n{{b64-64}}\n{{b64-44}}\n", false},
	{"keys", "cert.pem", "-----BEGIN CERTIFICATE-----\n{{b64-64}}\n{{b64-64}}\n{{b64-64}}\n{{b64-44}}\n-----END CERTIFICATE-----\n", false},
	{"keys", "data-uri.css", ".logo { background: url(data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==); }\n", false},
	{"jwt", "jwt.txt", "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\n", false},
	{"jwt", "configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nbinaryData:\n  app.conf: bG9nX2xldmVsID0gaW5mbwpyZWdpb24gPSB1cy1lYXN0LTEKYnVja2V0ID0gbWVkaWEK\n", false},
	{"code", "main.go", "package main\n\nimport \"os\"\n\nfunc main() {\n\tsecret := os.Getenv(\"AWS_SECRET_ACCESS_KEY\")\n\t_ = secret\n}\n", false},
	{"code", "client.py", "import os\nimport boto3\n\nsession = boto3.Session(\n    aws_access_key_id=os.environ[\"AWS_ACCESS_KEY_ID\"],\n    aws_secret_access_key=os.environ[\"AWS_SECRET_ACCESS_KEY\"],\n)\n", false},
	{"code", "config", "[profile dev]\nregion = eu-west-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\ncredential_process = /usr/local/bin/broker export dev\n", false},
	{"code", "random.txt", "some_other_40_char_base64_str: {{rand40}}\nchecksum = {{rand40}}\n", false},
	{"code", "ids.txt", "request {{uuid}}\ntrace {{uuid}}\n", false},
	{"code", "messages.po", "msgid \"Show template folder\"\nmsgstr \"Näytä asiakirjamallikansio.\"\n", false},
	{"code", "words.txt", "TODAYINASIA" + "ASACKOFRICEFELLOVER\nASIAN FOOD IS GREAT\n", false},
	{"code", "dna.fasta", ">seq1\nCTTCATAGGGTTCACGCTGTGTAAT-ACG--CCTGAGGC-CACA-AGGG\nACCAGTTGACCAGTTGACCA-TTGCCA\nACCATTGGCCAATTGGCCAA\n", false},
	{"code", "credential-report.csv", "user,arn,user_creation_time,password_enabled,access_key_1_active,access_key_1_last_rotated\nalice,arn:aws:iam::123456789012:user/alice,2024-01-01T00:00:00+00:00,true,true,2024-02-01T00:00:00+00:00\n", false},
	{"code", "settings.py", "SECRET_KEY = \"django-insecure-8f2k!x@q#l7m$w0z^c&v*b(n)p_r=s+t-u9y\"\nPASSWORD_HASHERS = [\"django.contrib.auth.hashers.Argon2PasswordHasher\"]\n", false},
	{"code", "nonces.txt", "# signing nonces, not secrets\n{{rand40}}\n{{rand40}}\n", false},
}
