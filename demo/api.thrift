// SmartyzeDetect detection API, version 2.1.0 (a 1.0.0 server skips the fields it lacks).
// Binary protocol, buffered transport, over TCP (default port 9090) or a Unix socket.
// Coordinates are normalized to [0, 1], origin at the top left, x to the right, y down.

namespace py sdapi

enum ResultCode {
    SUCCESS = 1,
    ERR_GENERIC = 2,
    ERR_BUSY = 3,
    ERR_INVALID_REQ = 4,
    ERR_UNSUPPORTED = 5,
    ERR_NOT_ACTIVATED = 6,
    ERR_API_LIMIT = 7,
    ERR_NET_FAIL = 8,
}

// NORMAL is the fastest, VERY_BUSY the most accurate.
enum ObjectDetectionEnv {
    NORMAL = 1,
    BUSY = 2,
    VERY_BUSY = 3,
}

// SEGMENT: only crossings over the drawn segment count, else the line extends across the view.
// BOTH_DIR: in and out count, else only out-to-in.
enum LineCrossCriteria {
    LINE_CROSS = 1,
    LINE_SEGMENT_CROSS = 2,
    LINE_CROSS_BOTH_DIR = 3,
    LINE_SEGMENT_CROSS_BOTH_DIR = 4,
}

enum ObjectType {
    PERSON = 1,
}

enum DetectionInputType {
    IMG_BUFFER_RAW = 1,
    IMG_BUFFER_ENCODED = 2,
    IMG_FILE_PATH = 3,
    VID_FILE_PATH = 4,
}

enum ImageBufferFormat {
    RGB_HWC = 1,
}

enum EncodedImageFormat {
    JPEG = 1,
}

enum CrossDirection {
    UNKNOWN = 0,
    CROSS_IN = 1,
    CROSS_OUT = 2,
}

struct InitRequest {
    1: string license,
}

struct DetectionCapability {
    1: i32 numConcurrentSessions,
}

struct DetectorStatus {
    1: string version,
    2: string apiVersion,
    3: ResultCode initStatus,
    4: DetectionCapability capability,
    5: string activationChallenge,
}

struct ObjectDetectionSettings {
    1: required bool enabled,
    2: ObjectDetectionEnv env,
    3: ObjectType objectType,
    4: bool detectOnlyMovingObjects,
}

struct DetectionArea {
    1: double top,
    2: double left,
    3: double bottom,
    4: double right,
    5: string name,
}

// At most 2 areas.
struct DetectionAreaSettings {
    1: required bool enabled,
    2: list<DetectionArea> areas,
}

struct NormPoint {
    1: required double x,
    2: required double y,
}

// groundBoundary: 4 points of a rectangle on the ground; minSeparation: 2 points.
struct SocialDistanceSettings {
    1: required bool enabled,
    2: list<NormPoint> groundBoundary,
    3: list<NormPoint> minSeparation,
}

// boundary: 2 points; inPoint: any point on the "in" side.
struct LineCrossSettings {
    1: required bool enabled,
    2: list<NormPoint> boundary,
    3: NormPoint inPoint,
    4: LineCrossCriteria crossCriteria,
}

struct MaskDetectionSettings {
    1: required bool enabled,
}

struct AlprSettings {
    1: required bool enabled,
    2: string region,
    3: bool skipVehicleCheck,
    4: string presetMode = "medium",
}

struct DetectionSettings {
    1: ObjectDetectionSettings objSettings,
    2: SocialDistanceSettings sdSettings,
    3: DetectionAreaSettings detAreaSettings,
    4: LineCrossSettings lineCrossSettings,
    5: MaskDetectionSettings maskSettings,
    6: AlprSettings alprSettings,
}

struct DetectionSession {
    1: i32 id,
    2: DetectionSettings detectionSettings,
}

struct RawImageInput {
    1: i16 width,
    2: i16 height,
    3: ImageBufferFormat format,
    4: binary buffer,
}

struct EncodedImageInput {
    1: EncodedImageFormat format,
    2: binary buffer,
    3: i32 bufferLength,
}

// A path inside the server's container.
struct ImageFileInput {
    1: string filename,
}

// processFps: at most 10.
struct VideoFileInput {
    1: string filename,
    2: i32 processFps,
}

union InputParams {
    1: RawImageInput rawImageInput,
    2: EncodedImageInput encImageInput,
    3: ImageFileInput imgFileInput,
    4: VideoFileInput vidFileInput,
}

struct DetectionInput {
    1: DetectionInputType type,
    2: InputParams params,
}

struct DetectedObject {
    1: string name,
    2: i32 objectId,
    3: double top,
    4: double left,
    5: double bottom,
    6: double right,
    7: i32 frameIndex,
    8: double confidence,
    9: CrossDirection direction,
}

struct ObjectDetectionResult {
    1: list<DetectedObject> objects,
}

struct SocialDistanceViolation {
    1: DetectedObject first,
    2: DetectedObject second,
}

struct SocialDistanceResult {
    1: list<SocialDistanceViolation> violations,
}

// first: the object before the crossing; second: after it.
struct LineCrossViolation {
    1: DetectedObject first,
    2: DetectedObject second,
}

struct LineCrossDetectionResult {
    1: list<LineCrossViolation> violations,
}

struct MaskDetectionResult {
    1: list<DetectedObject> objects,
}

struct DetectedText {
    1: string text,
    2: double topLeftY,
    3: double topLeftX,
    4: double topRightY,
    5: double topRightX,
    6: double bottomRightY,
    7: double bottomRightX,
    8: double bottomLeftY,
    9: double bottomLeftX,
    10: double confidence,
}

struct LicensePlateNumber {
    1: string plate,
    2: double confidence,
}

struct LicensePlate {
    1: list<LicensePlateNumber> detections,
    2: i32 objectId,
    3: double top,
    4: double left,
    5: double bottom,
    6: double right,
    7: i32 frameIndex,
    8: double confidence,
    9: list<DetectedText> associatedText,
}

struct AlprResult {
    1: list<LicensePlate> objects,
}

struct DetectionOutput {
    1: ResultCode status,
    2: optional ObjectDetectionResult objDetResult,
    3: optional SocialDistanceResult socialDetResult,
    4: optional LineCrossDetectionResult lineCrossResult,
    5: optional MaskDetectionResult maskDetResult,
    6: optional AlprResult alprResult,
}

service DetectionApi {
    DetectorStatus init(1: InitRequest request),
    DetectorStatus getStatus(),
    ResultCode destroy(),
    i32 createSession(1: DetectionSettings settings),
    list<DetectionSession> getSessions(),
    ResultCode deleteSession(1: i32 sessionId),
    DetectionOutput clearSession(1: i32 sessionId),
    DetectionOutput getSessionResult(1: i32 sessionId),
    ResultCode processInputForSession(1: i32 sessionId, 2: i32 frameIndex, 3: DetectionInput input),
    DetectionOutput runDetection(1: DetectionInput input, 2: DetectionSettings settings),
}
