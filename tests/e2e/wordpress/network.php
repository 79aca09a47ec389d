<?php
/**
 * Turn the harness's installed WordPress into a multisite network, through WordPress's own API.
 *
 * Run with php-cli like seed.php (WORDPRESS_CONFIG and HTTP_HOST in the environment):
 *
 *     php network.php network <domain> [<admin-email>] (single-site config, after install)
 *     php network.php create <domain> <title>          (network config, HTTP_HOST: the main site)
 *     php network.php image <name>                     (network config, HTTP_HOST: the subsite)
 *
 * "network" creates the network tables and populates a subdomain network on
 * <domain> (install_network + populate_network, what Tools > Network Setup
 * runs); the harness then writes the MULTISITE constants into the config, as
 * the admin is told to. Its wildcard-DNS probe fails here (outbound HTTP is
 * blocked), which WordPress reports as a warning only. "create" adds a site
 * (wpmu_create_blog) and prints its id. "image" runs as that site (multisite
 * picks it by HTTP_HOST): it draws a JPEG with GD into the site's own uploads
 * (wp_upload_dir: uploads/sites/<id>/ on a network made after 3.5), attaches it
 * with its sub-sizes and publishes a post showing it; prints one JSON object.
 */

if (PHP_SAPI !== 'cli') {
    exit(1);
}
[$unused, $stage, $arg1, $arg2] = array_pad($argv, 4, '');

if ($stage === 'network') {
    define('WP_INSTALLING_NETWORK', true);
}
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';
require_once ABSPATH . 'wp-admin/includes/file.php';
require_once ABSPATH . 'wp-admin/includes/media.php';

if ($stage === 'network') {
    require_once ABSPATH . 'wp-admin/includes/network.php';
    // A single site's wpdb does not name the network tables yet (as wp-admin/network.php does).
    foreach ($wpdb->tables('ms_global') as $table => $prefixed) {
        $wpdb->$table = $prefixed;
    }
    install_network();
    $result = populate_network(1, $arg1, $arg2 ?: get_option('admin_email'), 'Test network', '/', true);
    if (is_wp_error($result) && $result->get_error_code() !== 'no_wildcard_dns') {
        fwrite(STDERR, $result->get_error_message() . "\n");
        exit(1);
    }
    echo "ok\n";
} elseif ($stage === 'create') {
    $id = wpmu_create_blog($arg1, '/', $arg2, 1);
    if (is_wp_error($id)) {
        fwrite(STDERR, $id->get_error_message() . "\n");
        exit(1);
    }
    echo $id, "\n";
} elseif ($stage === 'image') {
    $dir = wp_upload_dir('2024/03');
    $path = $dir['path'] . '/' . wp_unique_filename($dir['path'], sanitize_file_name($arg1 . '.jpg'));
    $im = imagecreatetruecolor(1200, 800);
    imagefill($im, 0, 0, imagecolorallocate($im, 70, 120, 160));
    imagefilledellipse($im, 600, 400, 500, 500, imagecolorallocate($im, 250, 220, 120));
    imagejpeg($im, $path, 70);
    $attachment = wp_insert_attachment(
        ['post_mime_type' => 'image/jpeg', 'post_title' => $arg1, 'post_status' => 'inherit'],
        $path
    );
    wp_update_attachment_metadata($attachment, wp_generate_attachment_metadata($attachment, $path));
    $post = wp_insert_post([
        'post_title' => 'A post of ' . $arg1,
        'post_status' => 'publish',
        'post_date' => '2024-03-10 09:00:00',
        'post_content' => wp_get_attachment_image($attachment, 'large'),
    ]);
    echo json_encode([
        'blog_id' => get_current_blog_id(),
        'post_url' => get_permalink($post),
        'image_url' => wp_get_attachment_url($attachment),
        'upload_dir' => $dir['basedir'],
    ]), "\n";
} else {
    fwrite(STDERR, "unknown stage $stage\n");
    exit(2);
}
